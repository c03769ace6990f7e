import {
  notebookParameters,
  parseLiteral,
  parseParameters,
  textValue,
  valueText
} from '../parameters';

describe('parseParameters', () => {
  it('reads simple name = literal lines with their kinds and values', () => {
    const source = [
      '# Parameters',
      'n = 42',
      'ratio = 0.5',
      "day = '2026-11-30'",
      'label = "say \\"hi\\""',
      'dry_run = False',
      'limit: int = 10',
      'regions = ["eu", \'us\']',
      'options = {"a": 1, \'b\': None, "c": True,}',
      'nothing = None'
    ].join('\n');
    expect(parseParameters(source)).toEqual([
      { name: 'n', kind: 'number', value: 42 },
      { name: 'ratio', kind: 'number', value: 0.5 },
      { name: 'day', kind: 'string', value: '2026-11-30' },
      { name: 'label', kind: 'string', value: 'say "hi"' },
      { name: 'dry_run', kind: 'boolean', value: false },
      { name: 'limit', kind: 'number', value: 10 },
      { name: 'regions', kind: 'json', value: ['eu', 'us'] },
      { name: 'options', kind: 'json', value: { a: 1, b: null, c: true } },
      { name: 'nothing', kind: 'json', value: null }
    ]);
  });

  it('leaves out lines that compute their value, and keeps a trailing comment out', () => {
    const source = [
      'start = datetime.now()',
      'total = n * 2',
      'import os',
      'n = 7  # how many',
      "tag = 'a#b'",
      '    indented = 1',
      'n = 8'
    ].join('\n');
    expect(parseParameters(source)).toEqual([
      { name: 'n', kind: 'number', value: 8 },
      { name: 'tag', kind: 'string', value: 'a#b' }
    ]);
  });

  it('is not fooled by strings that are not whole literals', () => {
    expect(parseLiteral("'a' + 'b'")).toBeNull();
    expect(parseLiteral('f"{x}"')).toBeNull();
    expect(parseLiteral('[x for x in y]')).toBeNull();
    expect(parseLiteral('1e3')).toEqual({ kind: 'number', value: 1000 });
    expect(parseLiteral('1_000')).toEqual({ kind: 'number', value: 1000 });
  });
});

describe('notebookParameters', () => {
  it('reads the first cell tagged parameters, source as lines or text', () => {
    const notebook = {
      cells: [
        { cell_type: 'code', metadata: {}, source: 'n = 1' },
        {
          cell_type: 'code',
          metadata: { tags: ['setup', 'parameters'] },
          source: ['n = 42\n', "name = 'x'\n"]
        },
        {
          cell_type: 'code',
          metadata: { tags: ['parameters'] },
          source: 'm = 3'
        }
      ]
    };
    expect(notebookParameters(notebook).map(p => [p.name, p.value])).toEqual([
      ['n', 42],
      ['name', 'x']
    ]);
  });

  it('finds none in a notebook without a parameters cell, or in no notebook', () => {
    expect(
      notebookParameters({ cells: [{ metadata: {}, source: 'n = 1' }] })
    ).toEqual([]);
    expect(notebookParameters(null)).toEqual([]);
    expect(notebookParameters('not a notebook')).toEqual([]);
  });
});

describe('textValue', () => {
  it('turns a form text back into a value of its kind', () => {
    expect(textValue('number', ' 42 ')).toBe(42);
    expect(textValue('string', '42')).toBe('42');
    expect(textValue('boolean', 'true')).toBe(true);
    expect(textValue('boolean', 'false')).toBe(false);
    expect(textValue('json', '[1, "a"]')).toEqual([1, 'a']);
  });

  it('says a text is not a number or not JSON instead of sending it', () => {
    expect(textValue('number', 'forty')).toBeInstanceOf(Error);
    expect(textValue('number', '')).toBeInstanceOf(Error);
    expect(textValue('json', '[1,')).toBeInstanceOf(Error);
  });

  it('round-trips what the form shows', () => {
    for (const [kind, value] of [
      ['string', 'x y'],
      ['number', 3.5],
      ['json', { a: [1] }],
      ['json', null]
    ] as const) {
      expect(textValue(kind, valueText(kind, value))).toEqual(value);
    }
  });
});
