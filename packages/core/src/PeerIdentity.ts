/**
 * Service identity from mutual TLS: a service whose server requires client
 * certificates maps the verified peer certificate to a service principal
 * through a table, by a subject alternative name: a URI (a SPIFFE ID such as
 * `spiffe://shop.test/orders`) or a DNS name (`dns:orders.internal`). The
 * certificate comes from the TLS socket (`@warden/http` reads it), never
 * from a header; one whose chain or dates the TLS stack did not verify is
 * refused, as is one naming no service of the table.
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const Peers = PeerIdentity.layerAuthenticator({
 *   "spiffe://shop.test/orders": { subject: "orders", tenant: "acme", tenants: ["globex"], scopes: ["stock.reserve"] }
 * })
 * ```
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Authenticator } from "./Authenticator.js"
import { Unauthenticated } from "./AuthError.js"
import * as Credential from "./Credential.js"
import * as Principal from "./Principal.js"

/** The service a certificate names. */
export interface Service {
  readonly subject: string
  readonly tenant: string
  readonly tenants?: ReadonlyArray<string>
  readonly scopes?: ReadonlyArray<string>
  readonly permissions?: { readonly allow?: ReadonlyArray<string>; readonly deny?: ReadonlyArray<string> }
}

const expired = Unauthenticated.of("expired", "the client certificate has expired or is not valid yet")
const untrusted = Unauthenticated.of("signature", "the client certificate does not chain to a trusted CA")
const unknown = Unauthenticated.of("inactive", "the client certificate names no known service")

/**
 * The `Authenticator` for peer certificates over `table`, keyed by a URI
 * SAN, or by `dns:` and a DNS SAN. Other credentials are refused
 * (`unsupported_credential`). Principals are made once, when the layer is
 * built (a malformed entry fails it).
 */
export const layerAuthenticator = (table: Readonly<Record<string, Service>>): Layer.Layer<Authenticator> =>
  Layer.sync(Authenticator, () => {
    const principals = new Map<string, Principal.Principal>()
    for (const [name, service] of Object.entries(table)) {
      principals.set(
        name.startsWith("dns:") ? name.toLowerCase() : name,
        Principal.make({
          kind: "service",
          subject: service.subject,
          clientId: service.subject,
          tenant: service.tenant,
          tenants: service.tenants ?? [],
          issuer: "mtls",
          authenticatedBy: "mtls",
          scopes: service.scopes ?? [],
          permissions: { allow: service.permissions?.allow ?? [], deny: service.permissions?.deny ?? [] }
        })
      )
    }
    const authenticateNow = (credential: Credential.Credential): Principal.Principal | Unauthenticated => {
      if (credential._tag !== "PeerCertificate") return Credential.unsupported(credential)
      if (!credential.verified) {
        return credential.problem === "CERT_HAS_EXPIRED" || credential.problem === "CERT_NOT_YET_VALID" ?
          expired :
          untrusted
      }
      for (const uri of credential.uris) {
        const principal = principals.get(uri)
        if (principal !== undefined) return principal
      }
      for (const dns of credential.dnsNames) {
        const principal = principals.get(`dns:${dns}`)
        if (principal !== undefined) return principal
      }
      return unknown
    }
    return {
      authenticate: (credential) => {
        const answer = authenticateNow(credential)
        return answer instanceof Unauthenticated ? Effect.fail(answer) : Effect.succeed(answer)
      },
      authenticateNow
    }
  })
