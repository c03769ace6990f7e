/**
 * A notebook's parameters as papermill reads them: the cell tagged
 * `parameters`, and in it the simple `name = literal` lines.
 *
 * Only literals are read (numbers, strings, True/False/None, JSON-like lists
 * and dicts); a line computing its value is left out, so the form never shows
 * a value the kernel would not have.
 */

/** What kind of value a parameter holds: how the form asks for it. */
export type ParameterKind = 'string' | 'number' | 'boolean' | 'json';

export interface INotebookParameter {
  name: string;
  kind: ParameterKind;
  /** The current value, as JSON. */
  value: unknown;
}

const ASSIGNMENT =
  /^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[A-Za-z_][\w.[\], ]*)?=\s*(.+?)\s*$/;

/**
 * The parameters of the cell source `source`, in order (a name assigned
 * twice keeps its last value, in its first place).
 */
export function parseParameters(source: string): INotebookParameter[] {
  const found = new Map<string, INotebookParameter>();
  for (const line of source.split(/\r?\n/)) {
    const match = ASSIGNMENT.exec(line);
    if (!match) {
      continue;
    }
    const literal =
      parseLiteral(match[2]) ?? parseLiteral(stripComment(match[2]));
    if (literal) {
      found.set(match[1], { name: match[1], ...literal });
    }
  }
  return Array.from(found.values());
}

/**
 * The source of the notebook's first cell tagged `parameters`, or null.
 */
export function parametersCellSource(notebook: unknown): string | null {
  const cells = (notebook as { cells?: unknown[] } | null)?.cells;
  if (!Array.isArray(cells)) {
    return null;
  }
  for (const cell of cells as {
    metadata?: { tags?: unknown };
    source?: unknown;
  }[]) {
    const tags = cell?.metadata?.tags;
    if (Array.isArray(tags) && tags.includes('parameters')) {
      const source = cell.source;
      return Array.isArray(source) ? source.join('') : String(source ?? '');
    }
  }
  return null;
}

/**
 * The parameters of a notebook (its `parameters` cell), or [] when it has none.
 */
export function notebookParameters(notebook: unknown): INotebookParameter[] {
  const source = parametersCellSource(notebook);
  return source === null ? [] : parseParameters(source);
}

/**
 * A Python literal as JSON, with its kind; null when it is not one.
 */
export function parseLiteral(
  text: string
): { kind: ParameterKind; value: unknown } | null {
  const trimmed = text.trim();
  if (trimmed === 'True' || trimmed === 'False') {
    return { kind: 'boolean', value: trimmed === 'True' };
  }
  if (trimmed === 'None') {
    return { kind: 'json', value: null };
  }
  if (/^[-+]?(\d[\d_]*)(\.\d*)?([eE][-+]?\d+)?$/.test(trimmed)) {
    const value = Number(trimmed.replace(/_/g, ''));
    return Number.isFinite(value) ? { kind: 'number', value } : null;
  }
  const string = parseString(trimmed);
  if (string !== null) {
    return { kind: 'string', value: string };
  }
  if (/^[[{]/.test(trimmed)) {
    const json = trimmed
      .replace(/\bTrue\b/g, 'true')
      .replace(/\bFalse\b/g, 'false')
      .replace(/\bNone\b/g, 'null')
      .replace(/'((?:[^'\\"]|\\.)*)'/g, '"$1"')
      .replace(/,\s*([\]}])/g, '$1');
    try {
      return { kind: 'json', value: JSON.parse(json) };
    } catch {
      return null;
    }
  }
  return null;
}

/** A quoted Python string (no prefix other than none), or null. */
function parseString(text: string): string | null {
  const match = /^(['"])((?:\\.|(?!\1)[^\\])*)\1$/.exec(text);
  if (!match) {
    return null;
  }
  const body = match[2];
  if (match[1] === '"') {
    try {
      return JSON.parse(`"${body}"`);
    } catch {
      return body;
    }
  }
  try {
    return JSON.parse(`"${body.replace(/\\'/g, "'").replace(/"/g, '\\"')}"`);
  } catch {
    return body;
  }
}

function stripComment(text: string): string {
  const hash = text.indexOf('#');
  return hash < 0 ? text : text.slice(0, hash);
}

/**
 * The text a form shows for a value of `kind`.
 */
export function valueText(kind: ParameterKind, value: unknown): string {
  if (kind === 'string') {
    return String(value ?? '');
  }
  return JSON.stringify(value);
}

/**
 * The value a form's text stands for, or an Error saying why it is none.
 */
export function textValue(kind: ParameterKind, text: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'boolean':
      return text === 'true';
    case 'number': {
      const value = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(value)) {
        return new Error(`"${text}" is not a number`);
      }
      return value;
    }
    case 'json':
      try {
        return JSON.parse(text);
      } catch {
        return new Error(`"${text}" is not a JSON value`);
      }
  }
}
