/// The dark theme, built in so that the console always has a theme: the text of `themes/dark.theme`
/// (a test keeps the two identical).
extension Theme {
    /// The name of the default theme.
    public static let defaultName = "dark"

    /// The text of `themes/dark.theme`.
    public static let darkSource = """
# Tollgate console theme: dark (the default; the same text is built into the binary).
# One role per line:  role = FOREGROUND [on BACKGROUND] [+attribute ...]
# Colours: default, black red green yellow blue magenta cyan white, bright-<name>, gray, 0-255, #rrggbb.
# Attributes: +bold +dim +italic +underline +reverse +standout.   See README.md in this folder.

default             = default on default
title               = black on cyan +bold
header              = bright-white +bold
selected            = black on bright-cyan
muted               = gray
label               = cyan
border              = gray
footer              = default
footer-key          = black on cyan
input               = bright-white on 237
flash-info          = bright-green +bold
flash-warn          = bright-yellow +bold
flash-error         = bright-white on red +bold

dialog              = default on 236
dialog-title        = bright-white on 236 +bold
button              = default on 239
button-focus        = black on bright-yellow +bold
danger              = bright-red +bold
spinner             = bright-cyan +bold

status-active       = green
status-expiring     = yellow +bold
status-expired      = bright-red +bold
status-needs-reauth = bright-magenta +bold
status-revoked      = gray

json-key            = bright-cyan
json-string         = green
json-number         = bright-yellow
json-literal        = magenta
json-punctuation    = gray

help-key            = bright-yellow +bold
help-section        = cyan +bold +underline

"""

    /// The built-in dark theme.
    public static let dark: Theme = {
        do {
            return try Theme.parse(darkSource, name: defaultName, source: "<built-in dark>")
        } catch {
            fatalError("the built-in dark theme does not parse: \(error)")
        }
    }()
}
