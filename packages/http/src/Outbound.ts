/**
 * Calling other services over `@effect/platform`'s `HttpClient` with
 * Warden's credentials, with the same choices as `@warden/rpc`'s `Outbound`:
 * forward the caller's token (with the tenant the current request acts
 * for), the service's own token, a token the caller holds, or none, which
 * fails before anything is sent while the current request is authenticated.
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const inventory = yield* Outbound.client("inventory", Outbound.forward())
 * const stock = yield* inventory.get(`${inventoryUrl}/api/stock/${sku}`)
 * ```
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Outgoing from "@warden/oauth/Outgoing"
import * as Effect from "effect/Effect"

// The credential choices are transport-neutral (`@warden/oauth/Outgoing`); `client` sends them.
export { anonymous, apiKey, exchange, forward, MissingCredentials, service, token } from "@warden/oauth/Outgoing"
export type { Credentials, OutboundError } from "@warden/oauth/Outgoing"

/**
 * The `HttpClient` in context, with every request carrying the headers
 * `credentials` give it, resolved in the calling fiber just before it is
 * sent (so `forward` reads the request being served); a request that cannot
 * be authenticated fails with an `OutboundError` and is never sent.
 */
export const client = (
  name: string,
  credentials: Outgoing.Credentials
): Effect.Effect<
  HttpClient.HttpClient.With<HttpClientError.HttpClientError | Outgoing.OutboundError>,
  never,
  HttpClient.HttpClient
> =>
  Effect.map(
    HttpClient.HttpClient,
    HttpClient.mapRequestEffect((request) =>
      Effect.map(Outgoing.headersFor(name, credentials), (headers) => HttpClientRequest.setHeaders(request, headers))
    )
  )
