import { once } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Small HTTP pieces shared by the look-alike upstreams (demo and tests). */

export async function listenOnLoopback(server: Server, port = 0): Promise<{ origin: string; close(): Promise<void> }> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => ok(body));
    req.on('error', fail);
  });
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

/**
 * A look-alike's HTML page. `label` (e.g. "Demo GitHub (look-alike)") is its title and a
 * banner above the content, so a person always knows which pretend provider they are at.
 */
export function page(res: ServerResponse, status: number, html: string, label: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' }).end(lookalikeHtml(html, label));
}

export function lookalikeHtml(html: string, label: string): string {
  return `<!doctype html><html><head><title>${escapeHtml(label)}</title></head><body style="font-family:system-ui;max-width:30rem;margin:3rem auto">`
    + `<p style="color:#555"><strong>${escapeHtml(label)}</strong>: a stand-in for the real provider, on this machine</p>${html}</body></html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Ways a look-alike endpoint can misbehave (quirk switches for tests), keyed by path:
 * an answer with any status and body (a 503 HTML page, garbage with a 500), headers
 * followed by a body that never ends, a body that never stops coming, a redirect, or
 * the right answer, late.
 */
export type LookalikeFault =
  | { kind: 'answer'; status: number; contentType: string; body: string }
  | { kind: 'stall-body' }
  | { kind: 'endless-body' }
  | { kind: 'redirect'; location: string }
  | { kind: 'slow'; delayMs: number };

/** Applies the fault set for this path, if any; true when it has answered the request itself. */
export async function applyFault(faults: Record<string, LookalikeFault>, pathname: string, res: ServerResponse): Promise<boolean> {
  const fault = faults[pathname];
  if (!fault) return false;
  switch (fault.kind) {
    case 'answer':
      res.writeHead(fault.status, { 'Content-Type': fault.contentType }).end(fault.body);
      return true;
    case 'stall-body':
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.write('{"access_token":"');
      return true;
    case 'endless-body': {
      // JSON that never closes, without a Content-Length, as fast as the reader takes it.
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.write('{"access_token":"');
      const chunk = 'a'.repeat(64 * 1024);
      const more = () => { while (!res.destroyed && res.write(chunk)); };
      res.on('drain', more);
      more();
      return true;
    }
    case 'redirect':
      res.writeHead(302, { Location: fault.location }).end();
      return true;
    case 'slow':
      await new Promise((ok) => setTimeout(ok, fault.delayMs));
      return false;
  }
}
