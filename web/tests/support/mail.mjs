// A real SMTP server for the tests that follow e-mails: Python's aiosmtpd on a free 127.0.0.1
// port, delivering into a Maildir that the test reads (through Python's `email` package, which
// decodes quoted-printable, base64 and multipart bodies). Stopped by its PID.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const READ_MAILDIR = `
import json, mailbox, sys
out = []
for key, msg in sorted(mailbox.Maildir(sys.argv[1], create=False).items(), key=lambda kv: kv[1].get_date()):
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == 'text':
            payload = part.get_payload(decode=True) or b''
            parts.append(payload.decode(part.get_content_charset() or 'utf-8', 'replace'))
    out.append({'to': msg.get('To', ''), 'from': msg.get('From', ''), 'subject': str(msg.get('Subject', '')), 'text': '\\n'.join(parts)})
print(json.dumps(out))
`;

export async function startMailServer() {
  if (spawnSync('python3', ['-c', 'import aiosmtpd']).status !== 0) {
    throw new Error('aiosmtpd is missing: install it with `apt-get install python3-aiosmtpd`');
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-web-mail-'));
  const maildir = join(dir, 'Maildir');
  const child = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error('aiosmtpd exited before listening');
    const up = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('aiosmtpd did not listen within 10 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  /** Every mail delivered so far, oldest first: `{ to, from, subject, text }` (text: all text parts). */
  function messages() {
    const r = spawnSync('python3', ['-c', READ_MAILDIR, maildir], { encoding: 'utf8' });
    if (r.status !== 0) return [];
    return JSON.parse(r.stdout);
  }

  return {
    port,
    pid: child.pid,
    messages,
    /** Waits for a mail to `to` (an address) beyond the first `seen` ones to it; returns it. */
    async waitFor(to, { seen = 0, timeout = 20_000 } = {}) {
      const end = Date.now() + timeout;
      for (;;) {
        const mine = messages().filter((m) => m.to.toLowerCase().includes(to.toLowerCase()));
        if (mine.length > seen) return mine[mine.length - 1];
        if (Date.now() > end) throw new Error(`no mail to ${to} within ${timeout / 1000} s (${messages().length} mails in all)`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    /** How many mails went to `to` so far. */
    count: (to) => messages().filter((m) => m.to.toLowerCase().includes(to.toLowerCase())).length,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 5_000))]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The first link in a mail's text whose path is `path` (the rest of its address kept), as a URL. */
export function linkIn(mail, path) {
  for (const m of mail.text.matchAll(/https?:\/\/[^\s"'<>]+/g)) {
    const url = new URL(m[0].replace(/&amp;/g, '&').replace(/[).,]+$/, ''));
    if (url.pathname === path) return url;
  }
  throw new Error(`no link to ${path} in the mail "${mail.subject}":\n${mail.text}`);
}
