import Foundation

/// The OSC 52 sequence that puts text on the terminal's clipboard (`ESC ] 52 ; c ; <base64> BEL`).
///
/// Inside tmux (`$TMUX` set) the plain sequence reaches the outer terminal only if tmux's `set-clipboard` is `on`
/// (tmux then also keeps it as a paste buffer), and the DCS-wrapped one (`ESC P tmux; ESC ESC ] 52 … BEL ESC \`)
/// only if `allow-passthrough` is `on`; both are off by default in tmux 3.3, so both are sent and whichever the
/// user enabled works.
public enum Clipboard {
    /// The bytes to write to the terminal for `text`.
    public static func sequence(for text: String, inTmux: Bool) -> [UInt8] {
        let payload = "52;c;" + Data(text.utf8).base64EncodedString()
        let plain = "\u{1B}]" + payload + "\u{07}"
        guard inTmux else { return Array(plain.utf8) }
        let wrapped = "\u{1B}Ptmux;\u{1B}\u{1B}]" + payload + "\u{07}\u{1B}\\"
        return Array((plain + wrapped).utf8)
    }

    /// Whether the console runs inside tmux.
    public static func inTmux(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        !(environment["TMUX"] ?? "").isEmpty
    }
}
