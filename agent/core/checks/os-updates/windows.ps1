# Hallpass os-updates probe for Windows PowerShell 5.1. Prints ONE JSON object; every section
# catches its own failure and reports it as an `error` string so the parser can say why.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

function Get-RegValue($Path, $Name) {
  $item = Get-ItemProperty -Path $Path -Name $Name -ErrorAction SilentlyContinue
  if ($null -eq $item) { return $null }
  return $item.$Name
}

$result = [ordered]@{ schema = 1 }

# Build numbers from the registry; ProductName still says "Windows 10" on Windows 11.
try {
  $cv = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
  $ubr = Get-RegValue $cv 'UBR'
  if ($null -ne $ubr) { $ubr = [int]$ubr }
  $result.os = [ordered]@{
    productName    = [string](Get-RegValue $cv 'ProductName')
    displayVersion = Get-RegValue $cv 'DisplayVersion'
    currentBuild   = [string](Get-RegValue $cv 'CurrentBuild')
    ubr            = $ubr
    error          = $null
  }
} catch {
  $result.os = [ordered]@{ error = $_.Exception.Message }
}

# PLATFORMS.md section 3: any of these means a restart is needed to finish updating.
try {
  $sm = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue
  $result.reboot = [ordered]@{
    cbsRebootPending  = [bool](Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending')
    wuRebootRequired  = [bool](Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired')
    pendingFileRename = [bool]($null -ne $sm -and $null -ne $sm.PendingFileRenameOperations)
    error             = $null
  }
} catch {
  $result.reboot = [ordered]@{ error = $_.Exception.Message }
}

# Group Policy AU settings (NoAutoUpdate, AUOptions) and the wuauserv start type (4 = disabled).
try {
  $au = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU'
  $noAuto = Get-RegValue $au 'NoAutoUpdate'
  $options = Get-RegValue $au 'AUOptions'
  $start = Get-RegValue 'HKLM:\SYSTEM\CurrentControlSet\Services\wuauserv' 'Start'
  if ($null -ne $noAuto) { $noAuto = [int]$noAuto }
  if ($null -ne $options) { $options = [int]$options }
  if ($null -ne $start) { $start = [int]$start }
  $result.policy = [ordered]@{ noAutoUpdate = $noAuto; auOptions = $options; wuauservStart = $start; error = $null }
} catch {
  $result.policy = [ordered]@{ error = $_.Exception.Message }
}

# Last successful install as the Windows Update Agent records it.
try {
  $date = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results.LastInstallationSuccessDate
  $iso = $null
  if ($date -is [DateTime]) { $iso = $date.ToUniversalTime().ToString('o') }
  $result.lastInstall = [ordered]@{ lastInstallationSuccessDate = $iso; error = $null }
} catch {
  $result.lastInstall = [ordered]@{ lastInstallationSuccessDate = $null; error = $_.Exception.Message }
}

# Pending updates from the WUA searcher: slow and networked, so it may fail on its own.
try {
  $searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()
  $found = $searcher.Search("IsInstalled=0 and Type='Software' and IsHidden=0")
  $updates = @()
  foreach ($update in $found.Updates) {
    $categories = @()
    foreach ($category in $update.Categories) { $categories += [string]$category.CategoryID }
    $kbs = @()
    foreach ($kb in $update.KBArticleIDs) { $kbs += [string]$kb }
    $updates += [pscustomobject]@{
      title          = [string]$update.Title
      kb             = $kbs
      msrcSeverity   = $update.MsrcSeverity
      categoryIds    = $categories
      rebootRequired = [bool]$update.RebootRequired
    }
  }
  # Kept at the top level so -Depth 4 reaches each update's kb and categoryIds arrays.
  $result.updates = $updates
  $result.search = [ordered]@{ resultCode = [int]$found.ResultCode; error = $null }
} catch {
  $result.updates = $null
  $result.search = [ordered]@{ resultCode = $null; error = $_.Exception.Message }
}

ConvertTo-Json -InputObject $result -Depth 4 -Compress
