import { describe, expect, it } from "@effect/vitest"
import { Matrix, Permission, Policy, Principal, Roles } from "@warden/core"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { TenantId } from "../src/Tenant.js"

const Perms = Permission.catalogue("stock:item:read", "stock:item:adjust", "stock:item:delete")
const roles = Roles.define(Perms, {
  admin: { allow: ["*"], deny: ["stock:item:delete"] },
  clerk: { allow: ["stock:item:read", "stock:item:adjust"] },
  viewer: { allow: ["stock:item:read"] }
})
const procedures: ReadonlyArray<Matrix.Procedure> = [
  { name: "Read", policy: Policy.permission(Perms, "stock:item:read") },
  { name: "Adjust", policy: Policy.all(Policy.scope("stock"), Policy.permission(Perms, "stock:item:adjust")) },
  { name: "Delete", policy: Policy.permission(Perms, "stock:item:delete") },
  { name: "Health", policy: "public" },
  { name: "Custom", policy: Effect.succeed(new Policy.Allowed({ grant: "custom" })) }
]

const outcomes = (matrix: Matrix.Matrix) =>
  Object.fromEntries(matrix.cells.map((c) => [`${c.procedure}/${c.column}`, c.outcome]))

describe("Matrix.make", () => {
  it("decides every procedure for every role, with the reason", () => {
    const matrix = Matrix.make(procedures, { roles, tenant: "acme", scopes: ["stock"] })
    expect(matrix.procedures).toEqual(["Read", "Adjust", "Delete", "Health", "Custom"])
    expect(matrix.columns).toEqual(["admin", "clerk", "viewer"])
    expect(outcomes(matrix)).toEqual({
      "Read/admin": "allowed",
      "Read/clerk": "allowed",
      "Read/viewer": "allowed",
      "Adjust/admin": "allowed",
      "Adjust/clerk": "allowed",
      "Adjust/viewer": "refused",
      "Delete/admin": "refused",
      "Delete/clerk": "refused",
      "Delete/viewer": "refused",
      "Health/admin": "public",
      "Health/clerk": "public",
      "Health/viewer": "public",
      "Custom/admin": "custom",
      "Custom/clerk": "custom",
      "Custom/viewer": "custom"
    })
    const cell = (p: string, c: string) => matrix.cells.find((x) => x.procedure === p && x.column === c)!
    expect(cell("Delete", "admin")).toMatchObject({
      reason: "denied_permission",
      requirement: "permission stock:item:delete"
    })
    expect(cell("Delete", "viewer")).toMatchObject({ reason: "missing_permission" })
    expect(cell("Read", "admin").reason).toBe("permission *")
  })

  it("a role column without the scope a policy needs is refused for the scope, whatever its permissions", () => {
    const matrix = Matrix.make(procedures, { roles, tenant: "acme" })
    const adjust = matrix.cells.find((x) => x.procedure === "Adjust" && x.column === "admin")!
    expect(adjust.outcome).toBe("refused")
    expect(adjust.requirement).toBe("scope stock")
  })

  it("changing a role changes the table", () => {
    const before = Matrix.toJson(Matrix.make(procedures, { roles, tenant: "acme", scopes: ["stock"] }))
    const looser = Roles.define(Perms, {
      admin: { allow: ["*"] },
      clerk: { allow: ["stock:item:read"] },
      viewer: { allow: ["stock:item:read"] }
    })
    const after = Matrix.toJson(Matrix.make(procedures, { roles: looser, tenant: "acme", scopes: ["stock"] }))
    expect(after).not.toEqual(before)
    expect(JSON.parse(after).cells.find((c: Matrix.Cell) => c.procedure === "Delete" && c.column === "admin").outcome)
      .toBe("allowed")
  })

  it("adds principals as columns with the grants of their claims", () => {
    const principal = Principal.make({
      subject: "u1",
      tenant: Schema.decodeSync(TenantId)("acme"),
      issuer: "https://idp",
      scopes: ["stock"],
      permissions: Perms.grants({ allow: ["stock:item:adjust"] })
    })
    const matrix = Matrix.make(procedures.slice(0, 3), { tenant: "acme", principals: [{ name: "u1", principal }] })
    expect(outcomes(matrix)).toEqual({ "Read/u1": "refused", "Adjust/u1": "allowed", "Delete/u1": "refused" })
  })

  it("renders a Markdown table, one row per procedure, escaping pipes", () => {
    const md = Matrix.toMarkdown(
      Matrix.make([{ name: "A|B", policy: Policy.permission(Perms, "stock:item:read") }], {
        roles,
        tenant: "acme"
      })
    )
    expect(md.split("\n")).toEqual([
      "| procedure | admin | clerk | viewer |",
      "|---|---|---|---|",
      "| A\\|B | allowed (permission *) | allowed (permission stock:item:read) | allowed (permission stock:item:read) |"
    ])
  })
})
