# Run by the MSI's deferred custom action ConfigureHallpass as SYSTEM, before the service starts,
# on install and upgrade (never on uninstall). Windows PowerShell 5.1. It does what wixl's tables
# cannot: the folder ACL, the service's recovery, and agent.json from SERVER_URL/ENROLL_TOKEN.
# A non-zero exit fails the install (Return="check"), so a half-configured device never ships.
param(
  [string]$ServerUrl = 'value:',
  [string]$EnrollToken = 'value:'
)
$ErrorActionPreference = 'Stop'

# The MSI passes each as `value:<property>`, so an unset property still arrives as an argument.
function Get-PrefixedValue([string]$Name, [string]$Text) {
  if (-not $Text.StartsWith('value:')) { throw "$Name arrived without its value: prefix" }
  return $Text.Substring(6).Trim()
}
$ServerUrl = Get-PrefixedValue 'ServerUrl' $ServerUrl
$EnrollToken = Get-PrefixedValue 'EnrollToken' $EnrollToken

$dataDir = Join-Path $env:ProgramData 'Hallpass'
$configFile = Join-Path $dataDir 'agent.json'
$credential = Join-Path $dataDir 'state\device-credential.dpapi'

# Well-known SIDs, not names (localised): S-1-5-18 LocalSystem, S-1-5-32-544 Administrators.
# Inherited by everything below, so state\, logs\ and agent.json are never readable by users:
# the service checks agent.json's ACL before it trusts a token in it.
if (-not (Test-Path -LiteralPath $dataDir)) {
  New-Item -ItemType Directory -Path $dataDir | Out-Null
}
& icacls.exe $dataDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' /T /C /Q | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls could not restrict $dataDir (exit $LASTEXITCODE)" }
& icacls.exe $dataDir /setowner '*S-1-5-32-544' /T /C /Q | Out-Null
if ($LASTEXITCODE -ne 0) { throw "icacls could not give $dataDir to Administrators (exit $LASTEXITCODE)" }

# Recovery: restart after 10 s, 10 s, then 60 s; the count resets after a day. failureflag 1
# also counts a stop with a non-zero exit code (the wrapper exits with the agent's).
& sc.exe failure Hallpass reset= 86400 actions= restart/10000/restart/10000/restart/60000 | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe failure Hallpass failed (exit $LASTEXITCODE)" }
& sc.exe failureflag Hallpass 1 | Out-Null
if ($LASTEXITCODE -ne 0) { throw "sc.exe failureflag Hallpass failed (exit $LASTEXITCODE)" }

if ($ServerUrl -eq '' -and $EnrollToken -eq '') {
  exit 0
}
if ($ServerUrl -ne '' -and $ServerUrl -notmatch '^https?://') {
  throw "SERVER_URL must start with https:// (got '$ServerUrl')"
}

# Keep what agent.json already says; set only what was given.
$settings = @{}
if (Test-Path -LiteralPath $configFile) {
  $existing = Get-Content -LiteralPath $configFile -Raw -Encoding UTF8 | ConvertFrom-Json
  foreach ($property in $existing.PSObject.Properties) {
    $settings[$property.Name] = $property.Value
  }
}
if ($ServerUrl -ne '') {
  $settings['serverUrl'] = $ServerUrl
}
# An enrolled device keeps its enrolment across upgrades and reinstalls: a token handed to it
# again (the same msiexec line redeployed) would only linger on disk, so it is not written.
if ($EnrollToken -ne '' -and -not (Test-Path -LiteralPath $credential)) {
  $settings['enrolmentToken'] = $EnrollToken
}

# Written to a temporary file in the locked folder (inherits its ACL), then moved over.
$json = $settings | ConvertTo-Json -Depth 3
$temp = Join-Path $dataDir '.agent.json.tmp'
[System.IO.File]::WriteAllText($temp, $json, (New-Object System.Text.UTF8Encoding($false)))
Move-Item -LiteralPath $temp -Destination $configFile -Force
exit 0
