import { describe, expect, it } from "@effect/vitest"
import { Claims } from "@warden/core"
import * as Either from "effect/Either"

const read = (claims: Record<string, unknown>, mapping: Claims.Mapping & { readonly issuer?: string } = {}) =>
  Claims.toPrincipal(claims, { ...mapping, authenticatedBy: "introspection" })

const reasonOf = (result: ReturnType<typeof read>) => Either.isLeft(result) ? result.left.reason : "ok"

describe("Claims.toPrincipal", () => {
  it("reads a user: subject, tenant, scopes, client, token id, expiry", () => {
    const principal = Either.getOrThrow(
      read({ iss: "https://i", sub: "alice", client_id: "web", tid: "acme", scope: "a b", jti: "j", exp: 10 })
    )
    expect(principal).toMatchObject({
      kind: "user",
      subject: "alice",
      clientId: "web",
      tenant: "acme",
      tenants: ["acme"],
      tokenId: "j",
      expiresAt: 10,
      authenticatedBy: "introspection"
    })
    expect(principal.scopes.tokens).toEqual(["a", "b"])
  })

  it("a client acting for itself (no sub, or sub = client_id) is a service; isService can decide otherwise", () => {
    expect(Either.getOrThrow(read({ iss: "i", client_id: "orders", tid: "acme" })).kind).toBe("service")
    expect(Either.getOrThrow(read({ iss: "i", sub: "orders", client_id: "orders", tid: "acme" })).kind).toBe("service")
    const custom = read({ iss: "i", sub: "bot", tid: "acme", svc: true }, { isService: (c) => c["svc"] === true })
    expect(Either.getOrThrow(custom).kind).toBe("service")
  })

  it("takes the configured issuer when the claims carry none, and refuses when there is neither", () => {
    expect(Either.getOrThrow(read({ sub: "a", tid: "acme" }, { issuer: "https://as" })).issuer).toBe("https://as")
    expect(reasonOf(read({ sub: "a", tid: "acme" }))).toBe("claims")
  })

  it("reads multi-tenant principals, scp arrays and permission claims when configured", () => {
    const principal = Either.getOrThrow(
      read(
        { iss: "i", sub: "a", org: "acme", orgs: ["initech"], scp: ["x"], perms: ["orders:*"], no: ["orders:delete"] },
        {
          tenantClaim: "org",
          tenantsClaim: "orgs",
          scopeArrayClaim: "scp",
          permissionsClaim: "perms",
          denyClaim: "no"
        }
      )
    )
    expect(principal.tenants).toEqual(["acme", "initech"])
    expect(principal.scopes.tokens).toEqual(["x"])
    expect(principal.permissions).toEqual({ allow: ["orders:*"], deny: ["orders:delete"] })
  })

  it("refuses a permissions claim that is present but null, as it refuses a null tenants claim", () => {
    const mapping = { permissionsClaim: "perms" }
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme", perms: null }, mapping))).toBe("claims")
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme", tenants: null }))).toBe("claims")
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme" }, mapping))).toBe("ok")
  })

  it.each([
    [{ tid: 1 }],
    [{ tid: "" }],
    [{ tid: ["acme"] }],
    [{ tid: "ac me" }],
    [{ tenants: "acme" }],
    [{ tenants: ["ok", 1] }],
    [{ scope: "a  b" }],
    [{ scope: "a\tb" }],
    [{ sub: 1 }],
    [{ sub: undefined, client_id: undefined }],
    [{ exp: "10" }],
    [{ jti: "" }]
  ])("refuses malformed claims %j as 'claims'", (override) => {
    expect(reasonOf(read({ iss: "i", sub: "a", tid: "acme", ...override }))).toBe("claims")
  })
})
