import Foundation
import Hummingbird
import TollgateCore

extension TollgateHTTPServer {
    /// RFC 9728 and RFC 8414 metadata, from the very function `tollgate wellknown` prints.
    func addWellKnownRoutes(to router: Router<TollgateRequestContext>) {
        router.get("/.well-known/oauth-protected-resource/mcp/:slug") { _, context in
            try await self.wellKnown(context, .protectedResource)
        }
        router.get("/.well-known/oauth-authorization-server/oauth/:slug") { _, context in
            try await self.wellKnown(context, .authorizationServer)
        }
    }

    private func wellKnown(_ context: TollgateRequestContext, _ document: WellKnown.Document) async throws -> Response {
        let slug = context.parameters.get("slug") ?? ""
        do {
            var response = Responses.bytes(try await tollgate.admin.wellKnown(serverSlug: slug, document, urls: urls),
                                           contentType: "application/json")
            response.headers[.accessControlAllowOrigin] = "*"
            response.headers[.cacheControl] = "max-age=60"
            return response
        } catch let error as TollgateError where error.code == .notFound {
            return Responses.json(["error": "not_found", "error_description": "no such server"], status: .notFound, noStore: false)
        }
    }
}
