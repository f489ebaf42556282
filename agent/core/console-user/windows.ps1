# Hallpass console-user probe for Windows PowerShell 5.1, run as SYSTEM: prints ONE compressed
# JSON object. Win32_ComputerSystem.UserName is the user of the physical console session
# (DOMAIN\user; empty at the sign-in screen and for Remote Desktop-only sessions), never the
# caller. Groups: the local groups that list the user's SID (Get-LocalGroupMember), plus, for a
# domain account, the groups in an S4U token for the user (WindowsIdentity by UPN; needs a
# domain controller). groupsComplete says whether the directory groups could be read: false with
# no domain controller answering, and always for an Entra ID (AzureAD\) account.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$result = [ordered]@{
  user           = $null
  groups         = @()
  groupsComplete = $false
  error          = $null
}

try {
  $system = Get-CimInstance -ClassName Win32_ComputerSystem
  $userName = [string]$system.UserName
  if ($userName -ne '') {
    $result.user = $userName
    $sid = (New-Object System.Security.Principal.NTAccount($userName)).Translate([System.Security.Principal.SecurityIdentifier]).Value
    $names = @()
    foreach ($group in @(Get-LocalGroup)) {
      try {
        foreach ($member in @(Get-LocalGroupMember -Group $group)) {
          if ([string]$member.SID -eq $sid) { $names += [string]$group.Name }
        }
      } catch {
        # Get-LocalGroupMember fails on a group holding an orphaned or Azure AD member: skip it.
        continue
      }
    }
    $complete = $true
    if ($userName.Split('\')[0] -eq 'AzureAD') {
      # An Entra ID account (Entra-joined PC): its directory groups are in Entra ID, which
      # nothing here can ask; only the local groups above are known.
      $complete = $false
    } elseif ([bool]$system.PartOfDomain) {
      $complete = $false
      try {
        $upn = $userName.Split('\')[-1] + '@' + [string]$system.Domain
        $identity = New-Object System.Security.Principal.WindowsIdentity($upn)
        foreach ($tokenGroup in @($identity.Groups)) {
          try {
            $names += [string]$tokenGroup.Translate([System.Security.Principal.NTAccount]).Value
          } catch {
            # A SID that no longer resolves to a name (a deleted group): nothing to match on.
            continue
          }
        }
        $complete = $true
      } catch {
        $complete = $false
      }
    }
    $result.groups = $names
    $result.groupsComplete = $complete
  }
} catch {
  $result.error = [string]$_.Exception.Message
}

ConvertTo-Json -InputObject $result -Depth 4 -Compress
