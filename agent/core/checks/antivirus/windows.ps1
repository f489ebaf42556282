# Hallpass antivirus probe for Windows PowerShell 5.1. Prints ONE JSON object:
#   { "securityCenter": { "products": [...] } | { "error": "..." },
#     "defender": { ...Get-MpComputerStatus fields... } | { "error": "..." } }
# Each section catches its own failure: Windows Server has no root/SecurityCenter2, and
# Get-MpComputerStatus fails (0x800106ba) when a third-party product has disabled Defender.
$ErrorActionPreference = 'Stop'
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8

function ConvertTo-IsoDate($value) {
    # Dates leave as UTC ISO 8601 so no locale ('18.10.2022', '10/18/2022') reaches the parser.
    if ($null -eq $value) { return $null }
    return ([datetime]$value).ToUniversalTime().ToString('o')
}

$result = [ordered]@{ securityCenter = $null; defender = $null }

try {
    $found = @(Get-CimInstance -Namespace 'root/SecurityCenter2' -ClassName 'AntiVirusProduct')
    # @(foreach ...) keeps a one-product list an array in 5.1's ConvertTo-Json.
    $products = @(foreach ($av in $found) {
        [ordered]@{
            displayName            = [string]$av.displayName
            productState           = [int64]$av.productState
            pathToSignedProductExe = [string]$av.pathToSignedProductExe
            timestamp              = [string]$av.timestamp
        }
    })
    $result.securityCenter = [ordered]@{ products = $products }
} catch {
    $result.securityCenter = [ordered]@{ error = [string]$_.Exception.Message }
}

try {
    $mp = Get-MpComputerStatus
    $result.defender = [ordered]@{
        AMServiceEnabled              = $mp.AMServiceEnabled
        AntivirusEnabled              = $mp.AntivirusEnabled
        RealTimeProtectionEnabled     = $mp.RealTimeProtectionEnabled
        AntivirusSignatureLastUpdated = (ConvertTo-IsoDate $mp.AntivirusSignatureLastUpdated)
        AntivirusSignatureAge         = $mp.AntivirusSignatureAge
        AntivirusSignatureVersion     = [string]$mp.AntivirusSignatureVersion
        AMRunningMode                 = [string]$mp.AMRunningMode
        DefenderSignaturesOutOfDate   = $mp.DefenderSignaturesOutOfDate
        IsTamperProtected             = $mp.IsTamperProtected
    }
} catch {
    $result.defender = [ordered]@{ error = [string]$_.Exception.Message }
}

$result | ConvertTo-Json -Depth 4 -Compress
