"""A relying party nobody at Doorman wrote: Flask + Authlib, in the style of Authlib's own
Flask tutorial (oauth.register with server_metadata_url, authorize_redirect,
authorize_access_token), with no PKCE settings at all. Run by test/interop/authlib.test.ts
with Debian's /usr/bin/python3 (python3-flask, python3-authlib).

Environment: DOORMAN_ISSUER, CLIENT_ID, CLIENT_SECRET, PORT. Every route answers JSON so the
test can assert what the app really received; tokens are kept in this process, never shown.
"""
import os
from urllib.parse import urlencode

from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Flask, jsonify, redirect, session, url_for

ISSUER = os.environ['DOORMAN_ISSUER']

app = Flask(__name__)
app.secret_key = os.urandom(32)
oauth = OAuth(app)
oauth.register(
    name='doorman',
    client_id=os.environ['CLIENT_ID'],
    client_secret=os.environ['CLIENT_SECRET'],
    server_metadata_url=f'{ISSUER}/.well-known/openid-configuration',
    client_kwargs={'scope': 'openid email profile offline_access'},
)

# Tokens by account id (the `sub`); the browser's Flask session holds only the sub.
TOKENS = {}


@app.route('/health')
def health():
    return jsonify(ok=True)


@app.route('/')
def home():
    sub = session.get('sub')
    return jsonify(signed_in=sub is not None, sub=sub)


@app.route('/login')
def login():
    return oauth.doorman.authorize_redirect(url_for('auth', _external=True))


@app.route('/auth')
def auth():
    try:
        token = oauth.doorman.authorize_access_token()
    except OAuthError as err:
        return jsonify(error=err.error, description=err.description), 400
    claims = token['userinfo']  # the verified ID token's claims (signature, iss, aud, nonce)
    TOKENS[claims['sub']] = token
    session['sub'] = claims['sub']
    userinfo = oauth.doorman.userinfo(token=token)
    return jsonify(
        sub=claims['sub'],
        id_token_nonce=bool(claims.get('nonce')),
        email=userinfo.get('email'),
        name=userinfo.get('name'),
        scope=token.get('scope'),
        has_refresh_token=bool(token.get('refresh_token')),
    )


@app.route('/refresh')
def refresh():
    token = TOKENS[session['sub']]
    try:
        fresh = oauth.doorman.fetch_access_token(grant_type='refresh_token', refresh_token=token['refresh_token'])
    except OAuthError as err:
        return jsonify(error=err.error, description=err.description), 400
    rotated = fresh.get('refresh_token') not in (None, token['refresh_token'])
    TOKENS[session['sub']] = {**token, **fresh}
    userinfo = oauth.doorman.userinfo(token=fresh)
    return jsonify(new_access_token=fresh['access_token'] != token['access_token'], rotated=rotated, email=userinfo.get('email'))


@app.route('/logout')
def logout():
    token = TOKENS.pop(session.pop('sub'))
    end_session = oauth.doorman.load_server_metadata()['end_session_endpoint']
    query = urlencode({'id_token_hint': token['id_token'], 'post_logout_redirect_uri': url_for('bye', _external=True)})
    return redirect(f'{end_session}?{query}')


@app.route('/bye')
def bye():
    return jsonify(signed_out=True)


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(os.environ['PORT']))
