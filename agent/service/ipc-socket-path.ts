// Where the IPC socket may live, and how it is created with the right mode. The service runs as
// root and the socket must be writable by every signed-in user (the tray), so a chmod after
// bind is the classic hole: a user who can swap the path for a link between bind and chmod gets
// root to chmod a file of their choosing. Instead the socket's folder must belong to root (or
// to the user the service runs as) and be writable by nobody else, and the socket is born with
// mode 0666 by binding under a umask, so nothing is ever chmod'ed by path.
import { lstat, mkdir, realpath, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import { dirname } from 'node:path';

/** The socket's folder (or one above it) could be changed by someone other than the service. */
export class UnsafeSocketFolder extends Error {}

const STICKY = 0o1000;

/**
 * Creates the socket's folder (0755) if missing and checks the way to it: every folder on the
 * path as written and as resolved must be owned by root or by this process's user and not
 * writable by group or others unless sticky (like /tmp, where others cannot rename what they do
 * not own); a link on the way (macOS: /var -> /private/var) must be owned by root or this user.
 * The socket's own folder must not be writable by others at all, sticky or not: another user
 * could create the socket's name there first.
 */
export async function prepareSocketFolder(path: string): Promise<void> {
  const folder = dirname(path);
  await mkdir(folder, { recursive: true, mode: 0o755 });
  const uid = process.getuid?.() ?? 0;
  const resolved = await realpath(folder);
  for (const start of new Set([folder, resolved])) {
    for (let dir = start; ; dir = dirname(dir)) {
      const info = await lstat(dir);
      if (info.uid !== 0 && info.uid !== uid) {
        throw new UnsafeSocketFolder(
          `${dir} (on the way to the IPC socket) belongs to uid ${info.uid}`,
        );
      }
      if (!info.isSymbolicLink()) {
        if (!info.isDirectory()) {
          throw new UnsafeSocketFolder(`${dir} (on the way to the IPC socket) is not a folder`);
        }
        const othersMayWrite = (info.mode & 0o022) !== 0;
        if (othersMayWrite && (dir === resolved || (info.mode & STICKY) === 0)) {
          throw new UnsafeSocketFolder(
            `${dir} (on the way to the IPC socket) is writable by others (mode ${(info.mode & 0o7777).toString(8)})`,
          );
        }
      }
      if (dirname(dir) === dir) {
        break;
      }
    }
  }
}

/**
 * Binds `server` to `path` with the socket file created as 0666 (any user's tray may connect).
 * `listen` binds synchronously on the main thread for a Unix socket, so the umask is changed
 * only around that call; file writes in flight on libuv's threads at that instant all pass an
 * explicit mode (0600 or 0700), which a umask of 0111 cannot widen.
 */
export async function listenWithMode(server: Server, path: string): Promise<void> {
  // A socket left by a killed service would make listen fail with EADDRINUSE. The folder is
  // the service's own (prepareSocketFolder), so nobody else can have put anything there.
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const previous = process.umask(0o111);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
  const info = await lstat(path);
  if (!info.isSocket() || (info.mode & 0o777) !== 0o666) {
    throw new UnsafeSocketFolder(
      `${path} is not the socket just created with mode 0666 (mode ${(info.mode & 0o7777).toString(8)})`,
    );
  }
}
