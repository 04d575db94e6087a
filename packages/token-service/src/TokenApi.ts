/**
 * The token service over HTTP, as an HttpApi: `POST /token` (RFC 6749 §3.2,
 * form-encoded: the password, refresh-token and client-credentials grants),
 * `POST /revoke` (RFC 7009), `GET /jwks` and
 * `GET /.well-known/oauth-authorization-server` (RFC 8414). Clients
 * authenticate with HTTP Basic or `client_id` and `client_secret` in the
 * form. Token responses carry `Cache-Control: no-store`; errors are RFC 6749
 * §5.2 bodies with fixed descriptions, never echoing a parameter.
 *
 * A request body must be form-encoded, at most 16 KiB (413 past that), with
 * no parameter repeated but `resource` (RFC 6749 §3.2, RFC 8707 §2).
 *
 * @example
 * ```ts
 * const Server = HttpApiBuilder.serve().pipe(
 *   Layer.provide(TokenApi.layer),
 *   Layer.provide(TokenService.layer(options)),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 4000 }))
 * )
 * ```
 *
 * @since 0.3.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as ClientAuth from "@warden/oauth/ClientAuth"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { OAuthError, tokenExchange, TokenService } from "./TokenService.js"
import type * as Service from "./TokenService.js"

const Form = Schema.Struct({
  grant_type: Schema.optional(Schema.String),
  username: Schema.optional(Schema.String),
  password: Schema.optional(Schema.String),
  refresh_token: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String),
  subject_token: Schema.optional(Schema.String),
  subject_token_type: Schema.optional(Schema.String),
  audience: Schema.optional(Schema.String),
  token: Schema.optional(Schema.String),
  token_type_hint: Schema.optional(Schema.String),
  client_id: Schema.optional(Schema.String),
  client_secret: Schema.optional(Schema.String)
}).pipe(HttpApiSchema.withEncoding({ kind: "UrlParams" }))

const Authorization = Schema.Struct({ authorization: Schema.optional(Schema.String) })

const ErrorBody = (status: number, identifier: string, description: string) =>
  Schema.Struct({ error: Schema.String, error_description: Schema.String }).pipe(
    Schema.annotations(HttpApiSchema.annotations({ status, identifier, description }))
  )

const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  token_type: Schema.Literal("Bearer"),
  expires_in: Schema.Number,
  scope: Schema.String,
  refresh_token: Schema.optional(Schema.String),
  issued_token_type: Schema.optional(Schema.String)
})

/**
 * The endpoints.
 *
 * @since 0.3.0
 * @category api
 */
export class OAuth extends HttpApiGroup.make("oauth")
  .add(
    HttpApiEndpoint.post("token", "/token")
      .setPayload(Form)
      .setHeaders(Authorization)
      .addSuccess(TokenResponse)
      .addError(ErrorBody(400, "OAuthBadRequest", "RFC 6749 §5.2: the request or the grant is not valid"))
      .addError(ErrorBody(401, "OAuthInvalidClient", "RFC 6749 §5.2: the client could not be authenticated"))
  )
  .add(
    HttpApiEndpoint.post("revoke", "/revoke")
      .setPayload(Form)
      .setHeaders(Authorization)
      .addSuccess(Schema.Void)
      .addError(ErrorBody(401, "OAuthInvalidClient", "RFC 6749 §5.2: the client could not be authenticated"))
  )
  .add(HttpApiEndpoint.get("jwks", "/jwks").addSuccess(Schema.Struct({ keys: Schema.Array(Schema.Unknown) })))
  .add(
    HttpApiEndpoint.get("metadata", "/.well-known/oauth-authorization-server").addSuccess(
      Schema.Record({ key: Schema.String, value: Schema.Unknown })
    )
  )
{}

/**
 * The token service's HttpApi.
 *
 * @since 0.3.0
 * @category api
 */
export class Api extends HttpApi.make("token-service").add(OAuth) {}

const noStore = { "cache-control": "no-store", pragma: "no-cache" } as const

const errorResponse = (e: OAuthError) =>
  HttpServerResponse.unsafeJson({ error: e.error, error_description: e.description }, {
    status: e.status,
    headers: {
      ...noStore,
      ...(e.error === "invalid_client" ? { "www-authenticate": "Basic realm=\"token-service\"" } : {})
    }
  })

const invalid = (description: string) => new OAuthError({ error: "invalid_request", description })

/** The client's id and secret from HTTP Basic or the form; one method only (RFC 6749 §2.3). */
const credentialsOf = (
  authorization: string | undefined,
  form: typeof Form.Type
): Effect.Effect<{ readonly id: string; readonly secret: Redacted.Redacted<string> }, OAuthError> => {
  const unauthenticated = new OAuthError({
    error: "invalid_client",
    description: "the client could not be authenticated"
  })
  if (authorization !== undefined) {
    const basic = ClientAuth.fromBasic(authorization)
    if (basic === undefined) return Effect.fail(unauthenticated)
    if (form.client_secret !== undefined) return Effect.fail(invalid("use one client authentication method"))
    if (form.client_id !== undefined && form.client_id !== basic.clientId) {
      return Effect.fail(invalid("client_id differs from the authenticated client"))
    }
    return Effect.succeed({ id: basic.clientId, secret: basic.clientSecret })
  }
  return form.client_id !== undefined && form.client_secret !== undefined ?
    Effect.succeed({ id: form.client_id, secret: Redacted.make(form.client_secret) }) :
    Effect.fail(unauthenticated)
}

/**
 * The `resource` parameters (RFC 8707 §2), which alone may repeat, so they are read from the form itself rather than
 * the decoded payload. The body was read and bounded before (`bodyChecks`); this reads the kept copy.
 */
const resourcesOf: Effect.Effect<ReadonlyArray<string>, never, HttpServerRequest.HttpServerRequest> = Effect.flatMap(
  HttpServerRequest.HttpServerRequest,
  (request) => Effect.map(Effect.orDie(request.text), (text) => new URLSearchParams(text).getAll("resource"))
)

const grantOf = (
  form: typeof Form.Type,
  resources: ReadonlyArray<string>
): Effect.Effect<Service.Grant, OAuthError> => {
  const scope = form.scope === undefined ? {} : { scope: form.scope }
  const resource = resources.length === 0 ? {} : { resource: resources.length === 1 ? resources[0]! : resources }
  switch (form.grant_type) {
    case "password":
      return form.username === undefined || form.password === undefined ?
        Effect.fail(invalid("username and password are required")) :
        Effect.succeed({
          grant_type: "password",
          username: form.username,
          password: Redacted.make(form.password),
          ...scope,
          ...resource
        })
    case "refresh_token":
      return form.refresh_token === undefined ?
        Effect.fail(invalid("refresh_token is required")) :
        Effect.succeed({ grant_type: "refresh_token", refresh_token: Redacted.make(form.refresh_token) })
    case "client_credentials":
      return Effect.succeed({ grant_type: "client_credentials", ...scope, ...resource })
    case tokenExchange: {
      if (resources.length > 1) return Effect.fail(invalid("a token exchange names one audience"))
      const audience = form.audience ?? resources[0]
      return form.subject_token === undefined || form.subject_token_type === undefined ?
        Effect.fail(invalid("subject_token and subject_token_type are required")) :
        Effect.succeed({
          grant_type: tokenExchange,
          subject_token: Redacted.make(form.subject_token),
          subject_token_type: form.subject_token_type,
          ...(audience === undefined ? {} : { audience }),
          ...scope
        })
    }
    case undefined:
      return Effect.fail(invalid("grant_type is required"))
    default:
      return Effect.fail(
        new OAuthError({ error: "unsupported_grant_type", description: "the grant type is not supported" })
      )
  }
}

/**
 * The handlers, over the `TokenService`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layerHandlers: Layer.Layer<HttpApiGroup.ApiGroup<"token-service", "oauth">, never, TokenService> =
  HttpApiBuilder.group(Api, "oauth", (handlers) =>
    Effect.map(TokenService, (service) =>
      handlers
        .handle("token", ({ headers, payload }) =>
          Effect.gen(function*() {
            const credentials = yield* credentialsOf(headers.authorization, payload)
            const client = yield* service.authenticateClient(credentials.id, credentials.secret)
            const grant = yield* grantOf(payload, yield* resourcesOf)
            const response = yield* service.token(client, grant)
            return HttpServerResponse.unsafeJson(response, { headers: noStore })
          }).pipe(Effect.catchTag("@warden/OAuthError", (e) => Effect.succeed(errorResponse(e)))))
        .handle("revoke", ({ headers, payload }) =>
          Effect.gen(function*() {
            const credentials = yield* credentialsOf(headers.authorization, payload)
            const client = yield* service.authenticateClient(credentials.id, credentials.secret)
            if (payload.token === undefined) return yield* Effect.fail(invalid("token is required"))
            yield* service.revoke(client, Redacted.make(payload.token))
            return HttpServerResponse.empty({ status: 200, headers: noStore })
          }).pipe(Effect.catchTag("@warden/OAuthError", (e) => Effect.succeed(errorResponse(e)))))
        .handle("jwks", () =>
          Effect.map(
            service.jwks,
            (set) =>
              HttpServerResponse.unsafeJson(set, {
                headers: { "cache-control": `public, max-age=${service.jwksMaxAge}` }
              })
          ))
        .handle("metadata", () => Effect.succeed(HttpServerResponse.unsafeJson(service.metadata)))))

/**
 * The most of a request body kept, in bytes.
 *
 * @since 0.3.0
 */
export const maxBodyBytes = 16 * 1024

/** A declared body up to this size past the bound is read and dropped, so the 413 reaches the client cleanly. */
const drainBytes = 1024 * 1024

const tooLarge = (drained: boolean) =>
  HttpServerResponse.unsafeJson({
    error: "invalid_request",
    error_description: `the request body is larger than ${maxBodyBytes} bytes`
  }, { status: 413, headers: { ...noStore, ...(drained ? {} : { connection: "close" }) } })

/**
 * Bounds and checks a body before any endpoint decodes it, so a hostile body gets an RFC 6749 answer (and never a
 * decoding error that would echo what was sent): form-encoded only, at most `maxBodyBytes`, no parameter repeated
 * but `resource`. The body read here is the one the endpoint then decodes (the platform keeps it).
 */
const bodyChecks = HttpApiBuilder.middleware(
  Api,
  (app) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (request.method !== "POST") return app
      const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
      if (type !== "application/x-www-form-urlencoded") {
        return Effect.succeed(errorResponse(invalid("the request body must be application/x-www-form-urlencoded")))
      }
      const declared = Number(request.headers["content-length"] ?? "0")
      if (declared > maxBodyBytes) {
        return declared <= drainBytes ?
          Effect.as(Effect.ignore(Stream.runDrain(request.stream)), tooLarge(true)) :
          Effect.succeed(tooLarge(false))
      }
      // Within a declared length the bound holds already; a body sent without one (chunked) is read up to the drain
      // limit, so one a little too large still gets its 413; past that the connection ends.
      const limit = request.headers["content-length"] === undefined ? drainBytes : maxBodyBytes
      return request.text.pipe(
        HttpServerRequest.withMaxBodySize(Option.some(limit)),
        Effect.matchEffect({
          onFailure: () => Effect.succeed(tooLarge(false)),
          onSuccess: (text) => {
            if (Buffer.byteLength(text) > maxBodyBytes) return Effect.succeed(tooLarge(true))
            const seen = new Set<string>()
            for (const key of new URLSearchParams(text).keys()) {
              if (seen.has(key) && key !== "resource") {
                return Effect.succeed(errorResponse(invalid("a request parameter is repeated")))
              }
              seen.add(key)
            }
            return app
          }
        })
      )
    })
)

/**
 * The HttpApi with its handlers and body checks: what `HttpApiBuilder.serve()` needs, given a `TokenService`.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<HttpApi.Api, never, TokenService> = HttpApiBuilder.api(Api).pipe(
  Layer.provide(layerHandlers),
  Layer.provide(bodyChecks)
)
