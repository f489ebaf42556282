# Hallpass USB storage probe for Windows PowerShell 5.1. Prints ONE compressed JSON object per
# line: once (list mode), or once at start and again after every device change (watch mode: the
# service puts `$HallpassWatch = $true` before this text). Every present PnP node whose
# compatible ids include USB\Class_08 is listed (a stick, a UAS enclosure, the MI_nn storage
# interface of a composite device), blocked ones included: a node the Device Installation
# Restrictions refused, or pnputil disabled, is still present, only without a working driver.
# For each node: its parent (a composite device's node holds the serial), the disks whose parent
# it is (Win32_DiskDrive.PNPDeviceID -> DEVPKEY_Device_Parent), so the disk holding the Windows
# volume is recognised. Also the allow list and the read-only value the service keeps in the
# registry, so it can change them knowing what is there. Numbers and ids only, never localised
# text the parser depends on.
# Portable media (phones and cameras speaking MTP/PTP) are listed apart, in `portableMedia`: a
# present USB node that is not storage and whose setup class is Windows Portable Devices (WPD,
# {eec5ad98-8080-425f-922a-dabf3de3f69a}) or whose compatible ids say still image (USB\Class_06,
# PTP) or carry the Microsoft OS descriptor ids USB\MS_COMP_MTP / USB\MS_COMP_PTP. The compatible
# ids are what identify a node that was refused or disabled: it has no driver, so maybe no class.
# With them: the deny lists of the Device Installation Restrictions and the WPD Deny_Write values.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$AllowKey = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\DeviceInstall\Restrictions\AllowInstanceIDs'
$RemovableDiskKey = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices\{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}'
$DenyIdsKey = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\DeviceInstall\Restrictions\DenyDeviceIDs'
$DenyClassesKey = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\DeviceInstall\Restrictions\DenyDeviceClasses'
$WpdClassGuid = '{eec5ad98-8080-425f-922a-dabf3de3f69a}'
$WpdAccessGuids = @('{6AC27878-A6FA-4155-BA85-F98F491D4F33}', '{F33FDC04-D1AC-4E8E-9A30-19BBD4B108AE}')
$RemovableStorageRoot = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\RemovableStorageDevices'

function Get-ParentInstanceId($instanceId) {
  try {
    $parent = Get-PnpDeviceProperty -InstanceId $instanceId -KeyName 'DEVPKEY_Device_Parent'
    return [string]$parent.Data
  } catch {
    return $null
  }
}

function Get-RegistryList($key) {
  $entries = @()
  if (Test-Path -LiteralPath $key) {
    $item = Get-Item -LiteralPath $key
    foreach ($valueName in @($item.GetValueNames())) {
      $entries += [ordered]@{
        name  = [string]$valueName
        value = [string]$item.GetValue($valueName)
      }
    }
  }
  return $entries
}

function Get-HallpassUsbStorage {
  $result = [ordered]@{
    devices          = @()
    systemDiskIndex  = $null
    allowInstanceIds = @()
    denyWrite        = $null
    portableMedia    = @()
    denyDeviceIds    = @()
    denyDeviceClasses = @()
    wpdDenyWrite     = @()
    error            = $null
  }
  try {
    # The disk holding the Windows volume: never touched, whatever the policy says.
    try {
      $partition = Get-Partition -DriveLetter $env:SystemDrive.Substring(0, 1)
      $result.systemDiskIndex = [int]$partition.DiskNumber
    } catch {
      $result.systemDiskIndex = $null
    }

    $disksByParent = @{}
    foreach ($disk in @(Get-CimInstance -ClassName Win32_DiskDrive)) {
      $diskParent = Get-ParentInstanceId $disk.PNPDeviceID
      if ($diskParent) {
        $parentKey = $diskParent.ToUpperInvariant()
        if (-not $disksByParent.ContainsKey($parentKey)) { $disksByParent[$parentKey] = @() }
        $disksByParent[$parentKey] += [int]$disk.Index
      }
    }

    $rows = @()
    $portable = @()
    foreach ($entity in @(Get-CimInstance -ClassName Win32_PnPEntity -Filter "DeviceID LIKE 'USB\\%'")) {
      $isStorage = $false
      $portableIds = @()
      foreach ($compatible in @($entity.CompatibleID)) {
        $id = [string]$compatible
        if ($id -like 'USB\Class_08*') { $isStorage = $true }
        if ($id -eq 'USB\Class_06' -or $id -like 'USB\Class_06&*' -or $id -eq 'USB\MS_COMP_MTP' -or
          $id -like 'USB\MS_COMP_MTP&*' -or $id -eq 'USB\MS_COMP_PTP' -or $id -like 'USB\MS_COMP_PTP&*') {
          $portableIds += $id
        }
      }
      $classGuid = [string]$entity.ClassGuid
      if (-not $isStorage) {
        # Storage wins: a node that is both (a phone in an old mass-storage mode) is storage.
        if ($portableIds.Count -gt 0 -or $classGuid -eq $WpdClassGuid) {
          $portableInstanceId = [string]$entity.DeviceID
          $portable += [ordered]@{
            instanceId       = $portableInstanceId
            parentInstanceId = Get-ParentInstanceId $portableInstanceId
            name             = [string]$entity.Name
            errorCode        = [int]$entity.ConfigManagerErrorCode
            classGuid        = $(if ($classGuid) { $classGuid.ToLowerInvariant() } else { $null })
            compatibleIds    = $portableIds
          }
        }
        continue
      }
      $instanceId = [string]$entity.DeviceID
      $indexes = @()
      if ($disksByParent.ContainsKey($instanceId.ToUpperInvariant())) {
        $indexes = @($disksByParent[$instanceId.ToUpperInvariant()])
      }
      $rows += [ordered]@{
        instanceId       = $instanceId
        parentInstanceId = Get-ParentInstanceId $instanceId
        name             = [string]$entity.Name
        errorCode        = [int]$entity.ConfigManagerErrorCode
        diskIndexes      = $indexes
      }
    }
    $result.devices = $rows
    $result.portableMedia = $portable

    $result.allowInstanceIds = @(Get-RegistryList $AllowKey)
    $result.denyDeviceIds = @(Get-RegistryList $DenyIdsKey)
    $result.denyDeviceClasses = @(Get-RegistryList $DenyClassesKey)

    if (Test-Path -LiteralPath $RemovableDiskKey) {
      $denyItem = Get-Item -LiteralPath $RemovableDiskKey
      $deny = $denyItem.GetValue('Deny_Write')
      if ($null -ne $deny) { $result.denyWrite = [int]$deny }
    }

    $wpdValues = @()
    foreach ($accessGuid in $WpdAccessGuids) {
      $wpdKey = Join-Path $RemovableStorageRoot $accessGuid
      if (Test-Path -LiteralPath $wpdKey) {
        $wpdDeny = (Get-Item -LiteralPath $wpdKey).GetValue('Deny_Write')
        if ($null -ne $wpdDeny) {
          $wpdValues += [ordered]@{
            classGuid = $accessGuid
            value     = [int]$wpdDeny
          }
        }
      }
    }
    $result.wpdDenyWrite = $wpdValues
  } catch {
    $result.error = [string]$_.Exception.Message
  }
  return $result
}

if ($HallpassWatch -eq $true) {
  # Win32_DeviceChangeEvent is delivered as it happens (not polled like __InstanceCreationEvent
  # WITHIN n); it carries no device id, so every event is answered with the whole state and the
  # service compares. One plug raises several events: they are drained after a short pause.
  Register-CimIndicationEvent -ClassName Win32_DeviceChangeEvent -SourceIdentifier 'HallpassUsb'
  while ($true) {
    $state = Get-HallpassUsbStorage
    [Console]::Out.WriteLine((ConvertTo-Json -InputObject $state -Depth 5 -Compress))
    [Console]::Out.Flush()
    $changed = Wait-Event -SourceIdentifier 'HallpassUsb'
    Remove-Event -EventIdentifier $changed.EventIdentifier
    Start-Sleep -Milliseconds 300
    foreach ($queued in @(Get-Event -SourceIdentifier 'HallpassUsb' -ErrorAction SilentlyContinue)) {
      Remove-Event -EventIdentifier $queued.EventIdentifier
    }
  }
} else {
  $result = Get-HallpassUsbStorage
  ConvertTo-Json -InputObject $result -Depth 5 -Compress
}
