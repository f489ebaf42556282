# The idle lock's helper in the user's Windows session (agent/tray/idle/windows.ts starts it
# once per session and keeps it: a PowerShell start is too dear to pay once a second). It reads
# one request a line on standard input, `<id> state` or `<id> lock`, and answers each with one
# JSON object on one line carrying the same id. It ends when its input closes (the tray quit).
# It only reports the raw numbers; windows.ts decides what they mean.
#   state: SHQueryUserNotificationState (presentation mode, full-screen video) and the session's
#          WTSSessionInfoEx level and SessionFlags (lock state; PLATFORMS.md section 5).
#   lock:  LockWorkStation's BOOL and Win32 error. It only asks: the lock happens later, so the
#          tray confirms it with `state`.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
Add-Type -Namespace Hallpass -Name IdleSession -MemberDefinition @'
[DllImport("shell32.dll")] public static extern int SHQueryUserNotificationState(out int state);
[DllImport("user32.dll", SetLastError = true)] public static extern bool LockWorkStation();
[DllImport("wtsapi32.dll", SetLastError = true)] public static extern bool WTSQuerySessionInformationW(IntPtr server, int sessionId, int infoClass, out IntPtr buffer, out int bytes);
[DllImport("wtsapi32.dll")] public static extern void WTSFreeMemory(IntPtr memory);
'@
$version = [Environment]::OSVersion.Version
$windows7 = ($version.Major -eq 6) -and ($version.Minor -eq 1)

function Read-SessionState($reply) {
  $state = 0
  $hr = [Hallpass.IdleSession]::SHQueryUserNotificationState([ref]$state)
  $reply.qunsResult = [int]$hr
  if ($hr -eq 0) {
    $reply.quns = [int]$state
  }
  $reply.windows7 = $windows7
  $buffer = [IntPtr]::Zero
  $bytes = 0
  # WTS_CURRENT_SERVER_HANDLE (0), WTS_CURRENT_SESSION (-1), WTSSessionInfoEx (25).
  if ([Hallpass.IdleSession]::WTSQuerySessionInformationW([IntPtr]::Zero, -1, 25, [ref]$buffer, [ref]$bytes)) {
    try {
      # WTSINFOEXW: DWORD Level at 0, then the union at 8 (it holds LARGE_INTEGERs, so it is
      # 8-aligned on x86 and x64): WTSINFOEX_LEVEL1_W SessionId, SessionState, SessionFlags.
      if ($bytes -ge 20) {
        $reply.level = [Runtime.InteropServices.Marshal]::ReadInt32($buffer, 0)
        $reply.flags = [Runtime.InteropServices.Marshal]::ReadInt32($buffer, 16)
      } else {
        $reply.error = 'WTSQuerySessionInformation returned ' + $bytes + ' bytes'
      }
    } finally {
      [Hallpass.IdleSession]::WTSFreeMemory($buffer)
    }
  } else {
    $code = [Runtime.InteropServices.Marshal]::GetLastWin32Error()
    $reply.error = 'WTSQuerySessionInformation failed with Win32 error ' + $code
  }
}

while ($true) {
  $line = [Console]::In.ReadLine()
  if ($line -eq $null) {
    break
  }
  $reply = [ordered]@{ id = $null; quns = $null; qunsResult = $null; level = $null; flags = $null; windows7 = $null; locked = $null; win32 = $null; error = $null }
  try {
    if ($line -match '^(\d{1,9}) (state|lock)$') {
      $reply.id = [int]$Matches[1]
      if ($Matches[2] -eq 'lock') {
        $reply.locked = [Hallpass.IdleSession]::LockWorkStation()
        $reply.win32 = [int][Runtime.InteropServices.Marshal]::GetLastWin32Error()
      } else {
        Read-SessionState $reply
      }
    } else {
      $reply.error = 'unknown request'
    }
  } catch {
    $reply.error = $_.Exception.Message
  }
  [Console]::Out.WriteLine(($reply | ConvertTo-Json -Compress -Depth 3))
  [Console]::Out.Flush()
}
