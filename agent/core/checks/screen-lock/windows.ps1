# Hallpass screen-lock probe. Windows PowerShell 5.1; prints ONE JSON object.
# Runs as SYSTEM, so the console user's settings are read from their hive under HKEY_USERS.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$result = [ordered]@{
    consoleUser           = $null
    sid                   = $null
    inactivityTimeoutSecs = $null
    user                  = $null
    userPolicy            = $null
    error                 = $null
}
$errors = @()

# Reads the three screen saver values of one key as strings (REG_SZ per MS docs); absent = null.
function Read-ScreenSaverValues([string]$path) {
    $values = [ordered]@{ ScreenSaveActive = $null; ScreenSaverIsSecure = $null; ScreenSaveTimeOut = $null }
    if (Test-Path -LiteralPath $path) {
        # A key with no values gives $null, and indexing $null would throw.
        $item = Get-ItemProperty -LiteralPath $path
        if ($null -eq $item) { return $values }
        foreach ($name in @('ScreenSaveActive', 'ScreenSaverIsSecure', 'ScreenSaveTimeOut')) {
            $prop = $item.PSObject.Properties[$name]
            if ($null -ne $prop) { $values[$name] = [string]$prop.Value }
        }
    }
    return $values
}

# Machine policy "Interactive logon: Machine inactivity limit" (DWORD seconds, 0 = off).
try {
    $system = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System'
    if (Test-Path -LiteralPath $system) {
        $item = Get-ItemProperty -LiteralPath $system
        if ($null -ne $item) {
            $prop = $item.PSObject.Properties['InactivityTimeoutSecs']
            if ($null -ne $prop) { $result.inactivityTimeoutSecs = [int64]$prop.Value }
        }
    }
} catch {
    $errors += "machine policy: $($_.Exception.Message)"
}

# Console user as DOMAIN\name (PLATFORMS.md section 7), then its SID for HKEY_USERS.
try {
    $name = (Get-CimInstance -ClassName Win32_ComputerSystem).UserName
    if ($name) {
        $result.consoleUser = [string]$name
        $account = New-Object System.Security.Principal.NTAccount([string]$name)
        $result.sid = $account.Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
} catch {
    $errors += "console user: $($_.Exception.Message)"
}

if ($result.sid) {
    try {
        $root = "Registry::HKEY_USERS\$($result.sid)"
        if (-not (Test-Path -LiteralPath $root)) { throw "the hive of $($result.sid) is not loaded" }
        $result.user = Read-ScreenSaverValues "$root\Control Panel\Desktop"
        $result.userPolicy = Read-ScreenSaverValues "$root\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
    } catch {
        $errors += "user settings: $($_.Exception.Message)"
    }
}

if ($errors.Count -gt 0) { $result.error = $errors -join '; ' }
$result | ConvertTo-Json -Depth 4 -Compress
