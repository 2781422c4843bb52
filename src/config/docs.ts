import { z } from 'zod';
import { configSchema } from './schema.ts';

interface JsonSchema {
  type?: string | string[]; description?: string; default?: unknown; enum?: unknown[]; const?: unknown;
  properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; required?: string[];
}

/**
 * The README's configuration table, made from the `.describe()` texts of the config
 * schema, so documentation and validation cannot disagree.
 */
export function configKeyTable(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: string[] = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  walk(schema, '', rows);
  return rows.join('\n');
}

function walk(node: JsonSchema, path: string, rows: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const here = path ? `${path}.${key}` : key;
    const variants = child.oneOf ?? child.anyOf;
    const items = child.items?.oneOf ?? child.items?.anyOf ?? (child.items ? [child.items] : undefined);
    if (child.properties) {
      rows.push(row(here, child, 'object'));
      walk(child, here, rows);
    } else if (items?.some((i) => i.properties)) {
      rows.push(row(here, child, 'list'));
      for (const item of items) {
        const label = item.properties?.type?.const ? `${here}[] (type: ${String(item.properties.type.const)})` : `${here}[]`;
        walk(item, label, rows);
      }
    } else {
      rows.push(row(here, child, typeName(variants ? variants[0]! : child)));
    }
  }
}

function typeName(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.enum) return s.enum.map((e) => `\`${String(e)}\``).join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeName(s.items) : 'any'}`;
  return Array.isArray(s.type) ? s.type.join(' \\| ') : s.type ?? 'any';
}

function row(key: string, s: JsonSchema, type: string): string {
  const def = s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``;
  return `| \`${key}\` | ${type} | ${def} | ${(s.description ?? '').replaceAll('|', '\\|')} |`;
}
