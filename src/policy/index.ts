/**
 * Access policies: one pure `decide(subject, action)` used at every
 * enforcement point, the policy types, and the resolver that turns a caller
 * into a subject (role and groups from the store, cached).
 */
export { decide, expandsTo, pinRefusal, ruleFor } from "./decide.ts";
export { isEmailAddress, isGroupName, SubjectResolver, type Caller } from "./subjects.ts";
export type * from "./types.ts";
