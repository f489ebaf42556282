// Builds the Linux package (issue 17) with Debian's own tools: the single executable from
// scripts/build-agent.ts, the systemd unit, the USB guard's static udev rule and its initramfs-tools
// hook, /etc/hallpass/, the tray's XDG autostart entry and the maintainer scripts in installers/linux/, laid out in a
// staging tree; dpkg-shlibdeps works out the library dependencies; dpkg-deb builds the .deb.
// `npm run build:deb` → dist/deb/hallpass_<version>_amd64.deb (installers/linux/README.md).
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { buildAgent } from './build-agent.ts';

const exec = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const linux = join(root, 'installers/linux');

/** Where `npm run build:deb` writes the package. */
export const DEFAULT_DEB_DIR = join(root, 'dist/deb');

/** How dpkg-deb compresses the data: xz for what ships, gzip -1 where a test only installs it. */
export type DebCompression = 'xz' | 'gzip-fast';

/** Options of a package build. */
export interface DebBuildOptions {
  outDir?: string;
  /** The package's version (Debian syntax, native: no revision); default: package.json's. */
  version?: string;
  /** An executable already built for this version; default: build one now. */
  executable?: string;
  compression?: DebCompression;
}

/** A Debian native version: what dpkg accepts without a revision, and what the agent reports. */
const NATIVE_VERSION = /^[0-9][A-Za-z0-9.+~]{0,49}$/;

/** Builds the .deb and returns its path. */
export async function buildDeb(options: DebBuildOptions = {}): Promise<string> {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  const version = options.version ?? manifest.version;
  if (!NATIVE_VERSION.test(version)) {
    throw new Error(`${version}: not a Debian native version (digits first, no "-" revision)`);
  }
  const outDir = resolve(options.outDir ?? DEFAULT_DEB_DIR);
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'hallpass-deb-'));
  try {
    const executable =
      options.executable ??
      (await buildAgent({ outDir: join(work, 'agent'), agentVersion: version })).executable;
    if (executable === null) {
      throw new Error('the agent build made no executable');
    }
    const stage = join(work, 'hallpass');
    const put = async (from: string, to: string, mode: number): Promise<void> => {
      await mkdir(dirname(join(stage, to)), { recursive: true });
      await copyFile(from, join(stage, to));
      await chmod(join(stage, to), mode);
    };
    const putData = async (data: Buffer | string, to: string, mode: number): Promise<void> => {
      await mkdir(dirname(join(stage, to)), { recursive: true });
      await writeFile(join(stage, to), data);
      await chmod(join(stage, to), mode);
    };
    // Compressed as Debian policy asks (gzip -9n: no name or time stamp in the header).
    const gzip = async (from: string): Promise<Buffer> =>
      gzipSync(await readFile(from), { level: 9 });

    await put(executable, 'usr/bin/hallpass', 0o755);
    // /lib, not /usr/lib: bookworm's dpkg and debhelper still install units and rules there.
    await put(join(linux, 'hallpass.service'), 'lib/systemd/system/hallpass.service', 0o644);
    await put(
      join(root, 'agent/core/usb/70-hallpass-usb-storage.rules'),
      'lib/udev/rules.d/70-hallpass-usb-storage.rules',
      0o644,
    );
    // initramfs-tools runs it at every update-initramfs: the rule in the initramfs too, unless the
    // root file system is on USB (installers/linux/README.md).
    await put(join(linux, 'initramfs-hook'), 'usr/share/initramfs-tools/hooks/hallpass', 0o755);
    await put(
      join(linux, 'hallpass-tray.desktop'),
      'etc/xdg/autostart/hallpass-tray.desktop',
      0o644,
    );
    await mkdir(join(stage, 'etc/hallpass'), { recursive: true, mode: 0o755 });
    await chmod(join(stage, 'etc/hallpass'), 0o755);
    const doc = 'usr/share/doc/hallpass';
    await put(join(linux, 'debian/copyright'), `${doc}/copyright`, 0o644);
    await put(join(linux, 'README.md'), `${doc}/README.md`, 0o644);
    await putData(changelog(version), `${doc}/changelog.gz`, 0o644);
    await putData(
      await gzip(join(linux, 'debian/hallpass.1')),
      'usr/share/man/man1/hallpass.1.gz',
      0o644,
    );
    await put(
      join(linux, 'debian/lintian-overrides'),
      'usr/share/lintian/overrides/hallpass',
      0o644,
    );
    for (const script of ['postinst', 'prerm', 'postrm']) {
      await put(join(linux, 'debian', script), `DEBIAN/${script}`, 0o755);
    }
    // The autostart entry is ICT's to change (say, to turn the tray off): kept on upgrade.
    await put(join(linux, 'debian/conffiles'), 'DEBIAN/conffiles', 0o644);

    const control = (await readFile(join(linux, 'debian/control'), 'utf8'))
      .replace('@VERSION@', version)
      .replace('@DEPENDS@', await libraryDepends(work, join(stage, 'usr/bin/hallpass')))
      .replace('@INSTALLED_SIZE@', await installedSize(stage));
    await putData(control, 'DEBIAN/control', 0o644);
    await putData(await md5sums(stage), 'DEBIAN/md5sums', 0o644);

    const deb = join(outDir, `hallpass_${version}_amd64.deb`);
    await exec(
      'dpkg-deb',
      [
        '--root-owner-group',
        ...(options.compression === 'gzip-fast' ? ['-Zgzip', '-z1'] : ['-Zxz']),
        '--build',
        stage,
        deb,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return deb;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The package's changelog (native package: changelog.gz), gzipped. */
function changelog(version: string): Buffer {
  const text =
    `hallpass (${version}) stable; urgency=medium\n\n` +
    '  * Built from the Hallpass repository (scripts/build-deb.ts); the history\n' +
    '    is in its git log.\n\n' +
    ` -- Hallpass Developers <dev@hallpass.invalid>  ${rfc2822(new Date())}\n`;
  return gzipSync(Buffer.from(text), { level: 9 });
}

function rfc2822(date: Date): string {
  return date
    .toUTCString()
    .replace(/^(\w+), (\d+) (\w+) (\d+) ([\d:]+) GMT$/, '$1, $2 $3 $4 $5 +0000');
}

/**
 * The Depends line for the executable's shared libraries, from dpkg-shlibdeps (it wants a
 * debian/control naming the package in its working folder).
 */
async function libraryDepends(work: string, executable: string): Promise<string> {
  const source = join(work, 'shlibdeps');
  await mkdir(join(source, 'debian'), { recursive: true });
  await writeFile(
    join(source, 'debian/control'),
    'Source: hallpass\n\nPackage: hallpass\nArchitecture: amd64\n',
  );
  const { stdout } = await exec('dpkg-shlibdeps', ['-O', `-e${executable}`], { cwd: source });
  const depends = /^shlibs:Depends=(.+)$/m.exec(stdout)?.[1];
  if (depends === undefined) {
    throw new Error(`dpkg-shlibdeps said nothing of ${executable}: ${stdout}`);
  }
  return depends.trim();
}

/** Installed-Size: kibibytes of the files, as dpkg-gencontrol counts them (du -sk). */
async function installedSize(stage: string): Promise<string> {
  const { stdout } = await exec('du', ['-sk', '--exclude=DEBIAN', stage]);
  return stdout.split(/\s/)[0] ?? '0';
}

/** DEBIAN/md5sums: every regular file outside DEBIAN/, as dh_md5sums writes it. */
async function md5sums(stage: string): Promise<string> {
  const { stdout } = await exec(
    'sh',
    [
      '-c',
      'find . -type f ! -path "./DEBIAN/*" -printf "%P\\0" | LC_ALL=C sort -z | xargs -0 md5sum',
    ],
    { cwd: stage, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const deb = await buildDeb();
  process.stdout.write(`wrote ${relative(process.cwd(), deb)}\n`);
}
