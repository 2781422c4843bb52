/** The device flow's grant type (RFC 8628 §3.4), as clients[].grantTypes and oidc-provider name it. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
