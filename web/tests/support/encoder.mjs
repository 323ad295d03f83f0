// A creator's encoder for the live tests: ffmpeg pushing test picture and tone over RTMP.

import { spawn } from 'node:child_process';

/**
 * Streams test picture and tone to `url` (`rtmp://…/live/<key>`) as a creator's encoder would
 * (`-re`: in real time), for `seconds`, at `size`. Resolves `exited` with ffmpeg's status and its
 * error output. Stop it only by its own PID.
 */
export function startEncoder(url, seconds, size = '640x360') {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '50', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k',
    '-f', 'flv', url,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return { pid: child.pid, child, exited, running: () => child.exitCode === null && child.signalCode === null };
}
