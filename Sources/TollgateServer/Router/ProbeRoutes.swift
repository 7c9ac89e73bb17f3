import Hummingbird
import TollgateCore

extension TollgateHTTPServer {
    /// The probes an orchestrator polls: `/livez` (the process answers; no I/O at all, so a slow or lost store
    /// never gets the process restarted), `/readyz` (the store answers a read; 503 with a reason otherwise, so
    /// traffic goes elsewhere) and `/healthz`, readiness under its older name, answering as it always has.
    func addProbeRoutes(to router: Router<TollgateRequestContext>) {
        router.get("/livez") { _, _ in
            Responses.json(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            guard let reason = await self.unreadiness() else { return Responses.json(["status": "ok"]) }
            return Responses.json(["status": "unavailable", "reason": reason], status: .serviceUnavailable)
        }
        router.get("/healthz") { _, _ in
            guard await self.unreadiness() != nil else { return Responses.json(["status": "ok"]) }
            return Responses.json(["status": "unavailable"], status: .serviceUnavailable)
        }
    }

    /// Nil when the store answers a read, else why not in words fit for anyone who can reach the probe (never
    /// the error itself: a database error may name hosts or users).
    func unreadiness() async -> String? {
        do {
            _ = try await tollgate.store.dataVersion()
            return nil
        } catch let error as TollgateError where error.code == .storeUnavailable {
            return "the store cannot be reached"
        } catch {
            return "the store could not be read"
        }
    }
}
