import type { UiSettings } from '../config/ui-settings.ts';

/** What every page's layout needs of the `ui` config, as `it.ui`. */
export interface PageBranding {
  productName: string;
  logoUrl?: string | undefined;
  faviconUrl?: string | undefined;
  primaryColor: string;
  /** Text colour on primary buttons: white when it reaches 4.5:1 (WCAG 2.2 §1.4.3), else whichever of black and white contrasts more. */
  onPrimary: string;
  supportContact?: string | undefined;
  supportHref?: string | undefined;
}

export function pageBranding(ui: Partial<UiSettings> = {}): PageBranding {
  const primaryColor = ui.primaryColor ?? '#1d4ed8';
  const contact = ui.supportContact;
  return {
    productName: ui.productName ?? 'Doorman',
    logoUrl: ui.logoUrl,
    faviconUrl: ui.faviconUrl,
    primaryColor,
    onPrimary: contrastRatio(primaryColor, '#ffffff') >= 4.5 || contrastRatio(primaryColor, '#ffffff') >= contrastRatio(primaryColor, '#000000') ? '#ffffff' : '#000000',
    supportContact: contact,
    supportHref: contact === undefined ? undefined : contact.startsWith('https://') ? contact : `mailto:${contact}`,
  };
}

/** WCAG 2.2 contrast ratio of two #rgb / #rrggbb colours. */
export function contrastRatio(a: string, b: string): number {
  const [la, lb] = [luminance(a), luminance(b)];
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

function luminance(hex: string): number {
  const digits = hex.slice(1).length === 3 ? [...hex.slice(1)].map((d) => d + d).join('') : hex.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(digits.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}
