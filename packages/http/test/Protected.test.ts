/**
 * The HttpApi adapter over real HTTP: a Node server on loopback, tokens from
 * a loopback identity provider verified against its JWKS, and requests sent
 * with node:http so that headers are exactly what a client puts on the wire
 * (two `authorization` headers included).
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpServer from "@effect/platform/HttpServer"
import * as OpenApi from "@effect/platform/OpenApi"
import { describe, expect, it } from "@effect/vitest"
import { AuditLog, CurrentScopes, CurrentTenant, CurrentUser, Permission, Policy } from "@warden/core"
import { Protected } from "@warden/http"
import { TestIdentityProvider } from "@warden/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { createServer, request as httpRequest } from "node:http"

const Catalogue = Permission.catalogue("orders:order:create", "inventory:stock:read")

const Seen = Schema.Struct({ tenant: Schema.String, subject: Schema.String, scopes: Schema.Array(Schema.String) })

const Shop = HttpApiGroup.make("shop")
  .add(HttpApiEndpoint.get("stock", "/api/stock/:sku").setPath(Schema.Struct({ sku: Schema.String })).addSuccess(Seen))
  .add(HttpApiEndpoint.post("order", "/api/orders").setPayload(Schema.Struct({ sku: Schema.String })).addSuccess(Seen))
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.String))

const Protect = Protected.group(Shop, {
  stock: Policy.scope("stock.read"),
  order: Policy.permission(Catalogue, "orders:order:create"),
  health: Protected.Public
})
const Api = HttpApi.make("shop").add(Protect)

const seen = Effect.gen(function*() {
  const user = yield* CurrentUser
  const tenant = yield* CurrentTenant
  const grants = yield* CurrentScopes
  return { tenant, subject: user.subject, scopes: [...grants.scopes.tokens] }
})

const ShopLive = HttpApiBuilder.group(Api, "shop", (handlers) =>
  handlers
    .handle("stock", () => seen)
    .handle("order", () => seen)
    .handle("health", () => Effect.succeed("ok")))

const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide(ShopLive),
  Layer.provide(Protected.layer(Api, { realm: "shop" }))
)

/** The server on a loopback port, its provider, and a way to send requests exactly as written. */
const serve = Effect.suspend(() => serveWith({}))
const serveWith = (keyStore: NonNullable<TestIdentityProvider.VerifierOptions["keyStore"]>) =>
  Effect.gen(function*() {
    const provider = yield* TestIdentityProvider.TestIdentityProvider
    const audit = yield* Layer.build(AuditLog.layerMemory)
    const context = yield* Layer.build(
      HttpApiBuilder.serve().pipe(
        Layer.provide(ApiLive),
        Layer.provide(TestIdentityProvider.layerAuthenticator({ keyStore })),
        Layer.provide(Layer.succeedContext(audit)),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
      )
    )
    const address = yield* HttpServer.addressWith((a) => Effect.succeed(a)).pipe(Effect.provide(context))
    const port = address._tag === "TcpAddress" ? address.port : 0
    const send = (
      method: string,
      path: string,
      headers: Record<string, string | ReadonlyArray<string>> = {},
      body?: unknown
    ) =>
      Effect.async<{ status: number; headers: Record<string, string | undefined>; body: unknown }>((resume) => {
        const payload = body === undefined ? undefined : JSON.stringify(body)
        const req = httpRequest({
          host: "127.0.0.1",
          port,
          method,
          path,
          headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...headers } as never
        }, (res) => {
          let text = ""
          res.setEncoding("utf8")
          res.on("data", (chunk: string) => (text += chunk))
          res.on("end", () => {
            let parsed: unknown = text
            try {
              parsed = JSON.parse(text)
            } catch {
              // not JSON
            }
            resume(Effect.succeed({
              status: res.statusCode ?? 0,
              headers: res.headers as Record<string, string | undefined>,
              body: parsed
            }))
          })
        })
        req.on("error", (e) => resume(Effect.die(e)))
        req.end(payload)
      })
    const token = (claims: Record<string, unknown>) =>
      provider.sign({ sub: "alice", tid: "acme", scope: "stock.read", ...claims })
    const trail = Context.get(audit, AuditLog.AuditTrail)
    return { provider, send, token, trail }
  }).pipe(Effect.provide(TestIdentityProvider.layer()))

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

describe("Protected HttpApi endpoints over HTTP", () => {
  it.scoped("an allowed caller gets its own tenant, user and scopes; a public endpoint needs nothing", () =>
    Effect.gen(function*() {
      const { send, token } = yield* serve
      const ok = yield* send("GET", "/api/stock/anvil", bearer(yield* token({})))
      expect(ok.status).toBe(200)
      expect(ok.body).toEqual({ tenant: "acme", subject: "alice", scopes: ["stock.read"] })
      const health = yield* send("GET", "/health")
      expect([health.status, health.body]).toEqual([200, "ok"])
      const order = yield* send("POST", "/api/orders", bearer(yield* token({ permissions: ["orders:*"] })), {
        sku: "anvil"
      })
      expect(order.status).toBe(200)
    }))

  it.scoped("no credentials: 401, WWW-Authenticate with the scheme and realm only, no error code", () =>
    Effect.gen(function*() {
      const { send } = yield* serve
      const res = yield* send("GET", "/api/stock/anvil")
      expect(res.status).toBe(401)
      expect(res.headers["www-authenticate"]).toBe("Bearer realm=\"shop\"")
      expect(res.headers["cache-control"]).toBe("no-store")
      expect(res.body).toMatchObject({ _tag: "Unauthenticated", code: null, reason: "missing_credentials" })
    }))

  it.scoped("a malformed authorization header: 400 invalid_request, the token never echoed", () =>
    Effect.gen(function*() {
      const { send, token } = yield* serve
      const good = yield* token({})
      for (const value of [`Basic ${good}`, `Bearer ${good} ${good}`, "Bearer", `Bearer  ${good}!`]) {
        const res = yield* send("GET", "/api/stock/anvil", { authorization: value })
        expect(res.status).toBe(400)
        expect(res.headers["www-authenticate"]).toMatch(/^Bearer realm="shop", error="invalid_request", error_desc/)
        expect(res.body).toMatchObject({ code: "invalid_request", reason: "malformed_header" })
        expect(JSON.stringify(res)).not.toContain(good.slice(0, 40))
      }
    }))

  it.scoped("two authorization headers, even the same one twice: 400 conflicting_credentials", () =>
    Effect.gen(function*() {
      const { send, token } = yield* serve
      const alice = yield* token({})
      const mallory = yield* token({ sub: "mallory" })
      for (const pair of [[`Bearer ${alice}`, `Bearer ${mallory}`], [`Bearer ${alice}`, `Bearer ${alice}`]]) {
        const res = yield* send("GET", "/api/stock/anvil", { authorization: pair })
        expect(res.status).toBe(400)
        expect(res.body).toMatchObject({ code: "invalid_request", reason: "conflicting_credentials" })
      }
    }))

  it.scoped("a token that does not verify: 401 invalid_token", () =>
    Effect.gen(function*() {
      const { provider, send } = yield* serve
      const forged = yield* Effect.promise(() =>
        import("@warden/jwt").then(({ TokenIssuer }) =>
          Effect.runPromise(
            TokenIssuer.sign(provider.foreignKey, {
              iss: provider.issuer,
              aud: provider.audience,
              sub: "alice",
              tid: "acme",
              scope: "stock.read"
            })
          )
        )
      )
      const res = yield* send("GET", "/api/stock/anvil", bearer(forged))
      expect(res.status).toBe(401)
      expect(res.headers["www-authenticate"]).toMatch(
        /^Bearer realm="shop", error="invalid_token", error_description="/
      )
      expect(res.body).toMatchObject({ _tag: "Unauthenticated", code: "invalid_token" })
    }))

  it.scoped("authenticated without the grant: 403 insufficient_scope, naming the scope that would help", () =>
    Effect.gen(function*() {
      const { send, token } = yield* serve
      const res = yield* send("GET", "/api/stock/anvil", bearer(yield* token({ scope: "orders.read" })))
      expect(res.status).toBe(403)
      expect(res.headers["www-authenticate"]).toMatch(
        /^Bearer realm="shop", error="insufficient_scope", error_description=".*", scope="stock.read"$/
      )
      expect(res.body).toMatchObject({ _tag: "Forbidden", reason: "missing_scope", scope: "stock.read" })
      const order = yield* send("POST", "/api/orders", bearer(yield* token({ permissions: ["orders:order:read"] })), {
        sku: "a"
      })
      expect(order.status).toBe(403)
      expect(order.body).toMatchObject({ reason: "missing_permission" })
    }))

  it.scoped("the tenant comes from the token: x-tenant may only pick a tenant the token signs", () =>
    Effect.gen(function*() {
      const { send, token } = yield* serve
      const acme = yield* token({})
      const spoofed = yield* send("GET", "/api/stock/a", { ...bearer(acme), "x-tenant": "globex" })
      expect(spoofed.status).toBe(403)
      expect(spoofed.body).toMatchObject({ reason: "tenant_not_signed" })
      const twice = yield* send("GET", "/api/stock/a", { ...bearer(acme), "x-tenant": ["acme", "globex"] })
      expect(twice.status).toBe(403)
      const multi = yield* token({ tenants: ["initech"] })
      const picked = yield* send("GET", "/api/stock/a", { ...bearer(multi), "x-tenant": "initech" })
      expect([picked.status, (picked.body as { tenant: string }).tenant]).toEqual([200, "initech"])
    }))

  it.scoped("when the keys cannot be fetched: 503 with Retry-After, never an allow", () =>
    Effect.gen(function*() {
      const { provider, send, token } = yield* serveWith({ maxStale: "1 minute" })
      expect((yield* send("GET", "/api/stock/a", bearer(yield* token({})))).status).toBe(200)
      yield* provider.setJwksAvailable(false)
      yield* TestClock.adjust("2 minutes")
      const res = yield* send("GET", "/api/stock/a", bearer(yield* token({})))
      expect(res.body).toMatchObject({ reason: "keys_unavailable" })
      expect(res.status).toBe(503)
      expect(res.headers["retry-after"]).toBe("1")
      expect(res.headers["www-authenticate"]).toBeUndefined()
      expect(res.body).toMatchObject({ _tag: "Unauthenticated", reason: "keys_unavailable" })
    }))

  it.scoped("every decision is audited once, by tenant", () =>
    Effect.gen(function*() {
      const { send, token, trail } = yield* serve
      yield* send("GET", "/api/stock/a", bearer(yield* token({})))
      yield* send("GET", "/api/stock/a", bearer(yield* token({ scope: "x" })))
      yield* send("GET", "/api/stock/a")
      yield* send("GET", "/health")
      expect(yield* trail.byTenant("acme")).toMatchObject([
        { decision: "allowed", procedure: "shop.stock", subject: "alice", requirement: "scope stock.read" },
        { decision: "denied", procedure: "shop.stock", subject: "alice", reason: "missing_scope" }
      ])
      expect(yield* trail.all).toHaveLength(3)
    }))
})

describe("the OpenAPI document", () => {
  it("declares the bearer scheme and every refusal on protected endpoints, and neither on public ones", () => {
    const doc = OpenApi.fromApi(Api) as unknown as {
      readonly paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>
      readonly components: { readonly securitySchemes: Record<string, unknown> }
    }
    expect(doc.components.securitySchemes["bearer"]).toEqual({ type: "http", scheme: "bearer" })
    const stock = doc.paths["/api/stock/{sku}"]!["get"]!
    expect(stock.security).toEqual([{ bearer: [] }])
    expect(Object.keys(stock.responses).sort()).toEqual(expect.arrayContaining(["200", "400", "401", "403", "503"]))
    const schemaOf = (status: string) => JSON.stringify(stock.responses[status])
    expect(schemaOf("400")).toContain("#/components/schemas/WardenInvalidRequest")
    expect(schemaOf("401")).toContain("#/components/schemas/WardenUnauthenticated")
    expect(schemaOf("403")).toContain("#/components/schemas/WardenForbidden")
    expect(schemaOf("503")).toContain("#/components/schemas/WardenUnavailable")
    const schemas = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas
    // The bodies are the refusals' own fields, with the closed reasons.
    expect(JSON.stringify(schemas["WardenUnauthenticated"])).toContain("missing_credentials")
    expect(JSON.stringify(schemas["WardenForbidden"])).toContain("insufficient_scope")
    const health = doc.paths["/health"]!["get"]!
    expect(health.security ?? []).toEqual([])
    expect(Object.keys(health.responses)).not.toContain("401")
  })
})
