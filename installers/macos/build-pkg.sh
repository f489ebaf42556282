#!/bin/bash
# Builds the signed, notarised Hallpass agent package on a Mac (Xcode command-line tools).
# Everything it packs is built and checked on Linux too; only signing and pkgbuild need macOS.
#
#   TEAM_ID=ABCDE12345 \
#   APP_IDENTITY="Developer ID Application: Example Ltd (ABCDE12345)" \
#   INSTALLER_IDENTITY="Developer ID Installer: Example Ltd (ABCDE12345)" \
#   NOTARY_PROFILE=hallpass-notary \
#   installers/macos/build-pkg.sh 0.1.0
#
# NOTARY_PROFILE is a keychain profile made once with
#   xcrun notarytool store-credentials hallpass-notary --apple-id … --team-id … --password …
# Output: dist/installers/hallpass-<version>.pkg and dist/installers/hallpass.mobileconfig.
set -euo pipefail

VERSION="${1:?usage: build-pkg.sh VERSION}"
: "${TEAM_ID:?set TEAM_ID}" "${APP_IDENTITY:?set APP_IDENTITY}"
: "${INSTALLER_IDENTITY:?set INSTALLER_IDENTITY}" "${NOTARY_PROFILE:?set NOTARY_PROFILE}"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$REPO/dist/installers"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 1. Both architectures: on an Apple silicon Mac `npm run build:agent` makes darwin-arm64; the
#    x64 executable comes from `npm run build:agent -- --target darwin-x64` (the official Node
#    binary of the pinned version). One universal file serves every Mac.
cd "$REPO"
npm run build:agent -- --target darwin-arm64,darwin-x64
lipo -create -output "$WORK/hallpass" \
  dist/agent/darwin-arm64/hallpass dist/agent/darwin-x64/hallpass
lipo -verify_arch "$WORK/hallpass" arm64 x86_64

# 2. Sign: hardened runtime, secure timestamp, the identifier the PPPC payload requires.
#    Node needs JIT under the hardened runtime (V8), hence the entitlements.
cat > "$WORK/entitlements.plist" <<'PLIST'
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>com.apple.security.cs.allow-jit</key>
  <true/>
  <key>com.apple.security.cs.allow-unsigned-executable-memory</key>
  <true/>
</dict>
</plist>
PLIST
codesign --force --options runtime --timestamp --identifier org.hallpass.agent \
  --entitlements "$WORK/entitlements.plist" --sign "$APP_IDENTITY" "$WORK/hallpass"
codesign --verify --strict --verbose=2 "$WORK/hallpass"

# 3. The payload, laid out as on the Mac, root:wheel (pkgbuild's recommended ownership).
ROOT="$WORK/root"
install -d -m 0755 "$ROOT/Library/Hallpass" "$ROOT/Library/LaunchDaemons" "$ROOT/Library/LaunchAgents"
install -m 0755 "$WORK/hallpass" "$ROOT/Library/Hallpass/hallpass"
install -m 0644 "$HERE/org.hallpass.agent.plist" "$ROOT/Library/LaunchDaemons/"
install -m 0644 "$HERE/org.hallpass.tray.plist" "$ROOT/Library/LaunchAgents/"
plutil -lint "$ROOT/Library/LaunchDaemons/org.hallpass.agent.plist" \
  "$ROOT/Library/LaunchAgents/org.hallpass.tray.plist"

# 4. Component package with the pre/postinstall scripts, then the signed product archive.
pkgbuild --root "$ROOT" --scripts "$HERE/scripts" --identifier org.hallpass.agent.pkg \
  --version "$VERSION" --install-location / --ownership recommended "$WORK/hallpass-component.pkg"
mkdir -p "$OUT"
productbuild --package "$WORK/hallpass-component.pkg" --sign "$INSTALLER_IDENTITY" \
  "$OUT/hallpass-$VERSION.pkg"

# 5. Notarise and staple, so Gatekeeper accepts it offline.
xcrun notarytool submit "$OUT/hallpass-$VERSION.pkg" --keychain-profile "$NOTARY_PROFILE" --wait
xcrun stapler staple "$OUT/hallpass-$VERSION.pkg"
pkgutil --check-signature "$OUT/hallpass-$VERSION.pkg"

# 6. The configuration profile with the real team id (sign it in the MDM, or with
#    `security cms -S -N "$APP_IDENTITY" -i hallpass.mobileconfig -o hallpass.signed.mobileconfig`).
sed "s/TEAMIDXXXX/$TEAM_ID/g" "$HERE/hallpass.mobileconfig" > "$OUT/hallpass.mobileconfig"
plutil -lint "$OUT/hallpass.mobileconfig"
echo "wrote $OUT/hallpass-$VERSION.pkg and $OUT/hallpass.mobileconfig"
