#!/bin/sh
# Removes the Hallpass agent from a Mac, as root (Jamf: a policy with this script).
# `uninstall.sh --purge` also deletes the device's enrolment, key, outbox and logs; without it
# they stay, so a reinstall reports as the same device.
set -eu
if [ "$(/usr/bin/id -u)" -ne 0 ]; then
  echo "uninstall.sh: run as root" >&2
  exit 1
fi
for uid in $(/bin/ps -axo uid=,comm= | /usr/bin/awk '$2 ~ /loginwindow$/ && $1 != 0 { print $1 }' | /usr/bin/sort -u); do
  /bin/launchctl bootout "gui/$uid/org.hallpass.tray" >/dev/null 2>&1 || true
done
# A clean stop: the service reports tamper.agent-stopped before it goes.
/bin/launchctl bootout system/org.hallpass.agent >/dev/null 2>&1 || true
/bin/rm -f /Library/LaunchDaemons/org.hallpass.agent.plist /Library/LaunchAgents/org.hallpass.tray.plist
/bin/rm -rf /Library/Hallpass
/usr/sbin/pkgutil --forget org.hallpass.agent.pkg >/dev/null 2>&1 || true
if [ "${1:-}" = "--purge" ]; then
  /bin/rm -rf "/Library/Application Support/Hallpass" /Library/Logs/Hallpass
fi
