import Foundation
import TollgateConsole
import TollgateCore

/// A console state wired to a ``FakeBackend``: press keys, post events, render.
struct ConsoleDriver {
    var state: ConsoleState
    let backend: FakeBackend
    /// Effects of the last key or event, before they were answered.
    var lastEffects: [ConsoleEffect] = []

    init(columns: Int = 80, rows: Int = 24, backend: FakeBackend = FakeBackend(), readOnly: Bool = false,
         settle: Bool = true) {
        self.backend = backend
        state = ConsoleState(options: ConsoleOptions(readOnly: readOnly, databaseName: "tollgate.sqlite",
                                                     themeNames: ["dark", "high-contrast", "light", "monochrome"]),
                             now: Fixtures.now, columns: columns, rows: rows)
        lastEffects = state.start()
        if settle { backend.settle(&state, lastEffects) }
    }

    mutating func press(_ keys: Key...) {
        for key in keys {
            lastEffects = state.handle(key)
            backend.settle(&state, lastEffects)
        }
    }

    /// Types characters (each one a key press).
    mutating func type(_ text: String) {
        for c in text { press(.character(c)) }
    }

    mutating func post(_ event: ConsoleEvent) {
        lastEffects = state.apply(event)
        backend.settle(&state, lastEffects)
    }

    func screen() -> ScreenBuffer { Renderer().render(state) }
}
