# Hallpass disk-encryption probe for Windows PowerShell 5.1. Prints ONE JSON object on one line.
# Numbers, never localised text: VolumeStatus/ConversionStatus, ProtectionStatus and key protector
# types are the documented Win32_EncryptableVolume numbers (MS Learn "GetConversionStatus",
# "GetKeyProtectorType"); Get-BitLockerVolume's enums carry the same values.
# Key protector SECRETS (recovery passwords, key files) are never read into the output.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$result = [ordered]@{
  source               = $null
  mountPoint           = $env:SystemDrive
  volumeStatus         = $null
  protectionStatus     = $null
  encryptionPercentage = $null
  encryptionMethod     = $null
  keyProtectorTypes    = @()
  error                = $null
  errorKind            = $null
}

function Get-ErrorKind($err) {
  # Access denied shows as UnauthorizedAccessException or WBEM_E_ACCESS_DENIED (0x80041003).
  $ex = $err.Exception
  if ($ex -is [System.UnauthorizedAccessException]) { return 'permission-denied' }
  if ($ex.HResult -eq -2147217405 -or $ex.HResult -eq -2147024891) { return 'permission-denied' }
  return 'failed'
}

$cmdletError = $null
try {
  # The BitLocker module is absent on some editions: fall back to CIM below.
  $volume = Get-BitLockerVolume -MountPoint $env:SystemDrive
  $result.source = 'Get-BitLockerVolume'
  $result.volumeStatus = [int]$volume.VolumeStatus
  $result.protectionStatus = [int]$volume.ProtectionStatus
  $result.encryptionPercentage = [double]$volume.EncryptionPercentage
  $result.encryptionMethod = [int]$volume.EncryptionMethod
  $types = @()
  foreach ($protector in @($volume.KeyProtector)) {
    if ($null -ne $protector) { $types += [int]$protector.KeyProtectorType }
  }
  $result.keyProtectorTypes = $types
} catch {
  $cmdletError = $_
}

if ($null -ne $cmdletError) {
  try {
    $filter = "DriveLetter = '" + $env:SystemDrive + "'"
    $cim = Get-CimInstance -Namespace 'root\CIMV2\Security\MicrosoftVolumeEncryption' -ClassName Win32_EncryptableVolume -Filter $filter
    if ($null -eq $cim) { throw 'no Win32_EncryptableVolume for the system drive' }
    $conversion = Invoke-CimMethod -InputObject $cim -MethodName GetConversionStatus
    $result.source = 'Win32_EncryptableVolume'
    $result.volumeStatus = [int]$conversion.ConversionStatus
    $result.encryptionPercentage = [double]$conversion.EncryptionPercentage
    $result.protectionStatus = [int]$cim.ProtectionStatus
    $method = Invoke-CimMethod -InputObject $cim -MethodName GetEncryptionMethod
    $result.encryptionMethod = [int]$method.EncryptionMethod
    $ids = Invoke-CimMethod -InputObject $cim -MethodName GetKeyProtectors -Arguments @{ KeyProtectorType = [uint32]0 }
    $types = @()
    foreach ($id in @($ids.VolumeKeyProtectorID)) {
      if ($null -ne $id) {
        $type = Invoke-CimMethod -InputObject $cim -MethodName GetKeyProtectorType -Arguments @{ VolumeKeyProtectorID = $id }
        $types += [int]$type.KeyProtectorType
      }
    }
    $result.keyProtectorTypes = $types
  } catch {
    $result.source = $null
    $result.error = 'Get-BitLockerVolume: ' + $cmdletError.Exception.Message + ' | Win32_EncryptableVolume: ' + $_.Exception.Message
    $result.errorKind = Get-ErrorKind $_
  }
}

# -Depth 4 so nested values are not flattened to strings (5.1 defaults to 2).
$result | ConvertTo-Json -Depth 4 -Compress
