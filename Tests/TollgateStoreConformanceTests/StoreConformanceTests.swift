import Testing
import TollgateCore
import TollgateTestSupport

extension StoreBackend: CustomTestStringConvertible {
    public var testDescription: String { name }
}

/// The store conformance suite, once per backend in ``StoreBackend/all``. One check at a time: each runs
/// dozens of concurrent store calls itself, and together they would starve the wall-clock tests of other suites.
@Suite("store conformance", .serialized)
struct StoreConformanceTests {
    @Test(arguments: StoreBackend.all) func servers(_ backend: StoreBackend) async throws {
        try await StoreConformance.servers(backend)
    }

    @Test(arguments: StoreBackend.all) func providers(_ backend: StoreBackend) async throws {
        try await StoreConformance.providers(backend)
    }

    @Test(arguments: StoreBackend.all) func clients(_ backend: StoreBackend) async throws {
        try await StoreConformance.clients(backend)
    }

    @Test(arguments: StoreBackend.all) func metadataDocumentClients(_ backend: StoreBackend) async throws {
        try await StoreConformance.metadataDocumentClients(backend)
    }

    @Test(arguments: StoreBackend.all) func introspectionCredentials(_ backend: StoreBackend) async throws {
        try await StoreConformance.introspectionCredentials(backend)
    }

    @Test(arguments: StoreBackend.all) func settingsAndKeys(_ backend: StoreBackend) async throws {
        try await StoreConformance.settingsAndKeys(backend)
    }

    @Test(arguments: StoreBackend.all) func grantsCodesAndTokens(_ backend: StoreBackend) async throws {
        try await StoreConformance.grantsCodesAndTokens(backend)
    }

    @Test(arguments: StoreBackend.all) func grantExtension(_ backend: StoreBackend) async throws {
        try await StoreConformance.grantExtension(backend)
    }

    @Test(arguments: StoreBackend.all) func pendingAuthorizations(_ backend: StoreBackend) async throws {
        try await StoreConformance.pendingAuthorizations(backend)
    }

    @Test(arguments: StoreBackend.all) func auditEvents(_ backend: StoreBackend) async throws {
        try await StoreConformance.auditEvents(backend)
    }

    @Test(arguments: StoreBackend.all) func auditQueriesAndRefreshHealth(_ backend: StoreBackend) async throws {
        try await StoreConformance.auditQueriesAndRefreshHealth(backend)
    }

    @Test(arguments: StoreBackend.all) func grantPaging(_ backend: StoreBackend) async throws {
        try await StoreConformance.grantPaging(backend)
    }

    @Test(arguments: StoreBackend.all) func grantListingBeyondTheCandidates(_ backend: StoreBackend) async throws {
        try await StoreConformance.grantListingBeyondTheCandidates(backend)
    }

    @Test(arguments: StoreBackend.all) func grantStatusFilter(_ backend: StoreBackend) async throws {
        try await StoreConformance.grantStatusFilter(backend)
    }

    @Test(arguments: StoreBackend.all) func compareAndSetRaces(_ backend: StoreBackend) async throws {
        try await StoreConformance.compareAndSetRaces(backend)
    }

    @Test(arguments: StoreBackend.all) func refreshLeaseRules(_ backend: StoreBackend) async throws {
        try await StoreConformance.refreshLeaseRules(backend)
    }

    @Test(arguments: StoreBackend.all) func refreshLeaseContext(_ backend: StoreBackend) async throws {
        try await StoreConformance.refreshLeaseContext(backend)
    }

    @Test(arguments: StoreBackend.all) func resealBatches(_ backend: StoreBackend) async throws {
        try await StoreConformance.resealBatches(backend)
    }

    @Test(arguments: StoreBackend.all) func retentionPurge(_ backend: StoreBackend) async throws {
        try await StoreConformance.retentionPurge(backend)
    }

    @Test(arguments: StoreBackend.all) func dataVersion(_ backend: StoreBackend) async throws {
        try await StoreConformance.dataVersion(backend)
    }

    @Test(arguments: StoreBackend.all) func reopenKeepsData(_ backend: StoreBackend) async throws {
        try await StoreConformance.reopenKeepsData(backend)
    }
}
