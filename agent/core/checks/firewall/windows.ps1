# Hallpass firewall probe for Windows PowerShell 5.1: prints ONE compressed JSON object.
# Get-NetFirewallProfile -PolicyStore ActiveStore is the merged (GPO + local) policy that is
# actually enforced. Enabled is a GpoBoolean (0 False, 1 True, 2 NotConfigured) and
# DefaultInboundAction an Action (0 NotConfigured, 2 Allow, 4 Block); both are cast to [int]
# so the output never depends on enum names. Profile names are not localised (PLATFORMS.md §4).
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

$result = [ordered]@{
    profiles = @()
    error    = $null
}

try {
    $found = @(Get-NetFirewallProfile -PolicyStore ActiveStore)
    $rows = @()
    foreach ($fwProfile in $found) {
        $rows += [ordered]@{
            Name                 = [string]$fwProfile.Name
            Enabled              = [int]$fwProfile.Enabled
            DefaultInboundAction = [int]$fwProfile.DefaultInboundAction
        }
    }
    $result.profiles = $rows
}
catch {
    $result.error = [string]$_.Exception.Message
}

ConvertTo-Json -InputObject $result -Depth 4 -Compress
