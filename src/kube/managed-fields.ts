// The part of a live object one field manager owns, read from metadata.managedFields (the same
// idea as client-go's Extract<Kind>() "apply configurations"). Re-applying exactly that, with
// some fields changed, keeps every other field the manager set instead of letting server-side
// apply delete them as "no longer specified".
//
// fieldsV1 is a trie: "f:<name>" a field of a map, "k:<json>" a list item picked by its key
// fields, "v:<json>" an item of a set, "i:<n>" a list item by index, "." the node itself.
import type { ManagedFieldsEntry } from './objects.js';

type Trie = { [key: string]: Trie };

/** The fields `manager` owns through Apply, merged over its entries; undefined when it owns none. */
export function ownedFields(managedFields: ManagedFieldsEntry[] | undefined, manager: string): Trie | undefined {
  const entries = (managedFields ?? []).filter((e) => e.manager === manager && e.operation === 'Apply' && !e.subresource && e.fieldsV1);
  if (entries.length === 0) return undefined;
  return entries.reduce<Trie>((acc, e) => mergeTries(acc, e.fieldsV1!), {});
}

function mergeTries(a: Trie, b: Trie): Trie {
  const out: Trie = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = out[k] ? mergeTries(out[k], v) : v;
  return out;
}

const isChildKey = (k: string) => k.startsWith('f:') || k.startsWith('k:') || k.startsWith('v:') || k.startsWith('i:');

/** The subset of `value` that `fields` names. A node without children is owned whole (a leaf, or an atomic map or list). */
export function extractOwned(value: unknown, fields: Trie): unknown {
  if (!Object.keys(fields).some(isChildKey)) return structuredClone(value);
  if (Array.isArray(value)) {
    const keyed = Object.entries(fields).filter(([k]) => isChildKey(k) && !k.startsWith('f:'));
    const out: unknown[] = [];
    value.forEach((item, index) => {
      for (const [k, sub] of keyed) {
        const id = k.slice(2);
        if (k.startsWith('k:') && isPlainObject(item) && matchesKey(item, JSON.parse(id) as Record<string, unknown>)) {
          // The key fields identify the item: always send them.
          out.push({ ...(JSON.parse(id) as object), ...(extractOwned(item, sub) as object) });
          return;
        }
        if (k.startsWith('v:') && JSON.stringify(item) === JSON.stringify(JSON.parse(id))) {
          out.push(structuredClone(item));
          return;
        }
        if (k.startsWith('i:') && Number(id) === index) {
          out.push(extractOwned(item, sub));
          return;
        }
      }
    });
    return out;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, sub] of Object.entries(fields)) {
      if (!k.startsWith('f:')) continue;
      const name = k.slice(2);
      if (name in value) out[name] = extractOwned(value[name], sub);
    }
    return out;
  }
  return structuredClone(value);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function matchesKey(item: Record<string, unknown>, key: Record<string, unknown>): boolean {
  return Object.entries(key).every(([k, v]) => JSON.stringify(item[k]) === JSON.stringify(v));
}
