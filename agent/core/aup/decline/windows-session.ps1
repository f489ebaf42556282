# Signs out or disconnects (locks) the console session as SYSTEM, through the Terminal
# Services API: WTSGetActiveConsoleSessionId, then WTSLogoffSession or WTSDisconnectSession
# (a disconnected console session shows the sign-in screen with the session kept, which is a
# lock). Only when Win32_ComputerSystem.UserName is still the user who declined. The action and
# the user arrive in the environment, never spliced into the script. Prints one JSON object.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
$result = [ordered]@{ session = $null; user = $null; done = $false; error = $null }
try {
  $action = $env:HALLPASS_AUP_ACTION
  $expected = $env:HALLPASS_AUP_USER
  Add-Type -Namespace Hallpass -Name Wts -MemberDefinition @'
[DllImport("kernel32.dll")] public static extern uint WTSGetActiveConsoleSessionId();
[DllImport("wtsapi32.dll", SetLastError = true)] public static extern bool WTSLogoffSession(IntPtr server, int sessionId, bool wait);
[DllImport("wtsapi32.dll", SetLastError = true)] public static extern bool WTSDisconnectSession(IntPtr server, int sessionId, bool wait);
'@
  $id = [Hallpass.Wts]::WTSGetActiveConsoleSessionId()
  if ($id -eq [uint32]::MaxValue) {
    $result.error = 'no session is attached to the console'
  } else {
    $result.session = [int]$id
    $user = (Get-CimInstance -ClassName Win32_ComputerSystem).UserName
    $result.user = $user
    if ($user -ne $expected) {
      $result.error = 'the console user has changed'
    } elseif ($action -eq 'sign-out') {
      $result.done = [Hallpass.Wts]::WTSLogoffSession([IntPtr]::Zero, [int]$id, $false)
    } elseif ($action -eq 'lock') {
      $result.done = [Hallpass.Wts]::WTSDisconnectSession([IntPtr]::Zero, [int]$id, $false)
    } else {
      $result.error = 'unknown action'
    }
    if (($result.error -eq $null) -and (-not $result.done)) {
      $code = [Runtime.InteropServices.Marshal]::GetLastWin32Error()
      $result.error = 'the Terminal Services call failed with Win32 error ' + $code
    }
  }
} catch {
  $result.error = $_.Exception.Message
}
$result | ConvertTo-Json -Compress -Depth 3
