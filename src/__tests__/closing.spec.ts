import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import {
  closeOpen,
  describeOpen,
  inFolder,
  IOpenSources,
  openInFolder,
  settleBeforeClose
} from '../closing';

const trans = nullTranslator.load('jupyter_emr_workspace');

/** A document tab as the shell holds it: a context, a header, editors. */
function doc(path: string, dirty = false, saveFails = false) {
  const headers: Widget[] = [];
  const editors = [0, 1].map(() => ({ readOnly: false, setOption: jest.fn() }));
  for (const editor of editors) {
    editor.setOption.mockImplementation((name: string, value: boolean) => {
      if (name === 'readOnly') {
        editor.readOnly = value;
      }
    });
  }
  const widget = {
    isDisposed: false,
    context: {
      path,
      model: { dirty, readOnly: false },
      save: jest.fn(async () => {
        if (saveFails) {
          throw new Error('423 Locked');
        }
        widget.context.model.dirty = false;
      })
    },
    contentHeader: { addWidget: (w: Widget) => headers.push(w) },
    content: { widgets: editors.map(editor => ({ editor })) },
    close: jest.fn(() => {
      widget.isDisposed = true;
    }),
    headers,
    editors
  };
  return widget;
}

const session = (id: string, path: string) =>
  ({ id, path, name: path, type: 'notebook', kernel: null }) as any;

function sources(widgets: unknown[], sessions: any[]) {
  const running = [...sessions];
  const shutdown = jest.fn(async (id: string) => {
    running.splice(
      running.findIndex(s => s.id === id),
      1
    );
  });
  const value: IOpenSources = {
    widgets: () => widgets,
    sessions: {
      refreshRunning: jest.fn(async () => undefined),
      running: () => running,
      shutdown
    }
  };
  return { value, shutdown, running };
}

describe('inFolder', () => {
  it('takes the folder and what is below it, with or without a drive', () => {
    expect(inFolder('workspaces/e-1', 'workspaces/e-1')).toBe(true);
    expect(inFolder('RTC:workspaces/e-1/a.ipynb', '/workspaces/e-1/')).toBe(
      true
    );
    expect(inFolder('workspaces/e-10/a.ipynb', 'workspaces/e-1')).toBe(false);
    expect(inFolder('a.ipynb', '')).toBe(false);
  });
});

describe('openInFolder', () => {
  it('finds the documents and sessions of one Workspace only', () => {
    const mine = doc('RTC:workspaces/e-1/a.ipynb');
    const other = doc('workspaces/e-2/b.ipynb');
    const open = openInFolder(
      'workspaces/e-1',
      [mine, other, new Widget()],
      [session('s1', 'workspaces/e-1/a.ipynb'), session('s2', 'c.ipynb')]
    );
    expect(open.documents).toEqual([mine]);
    expect(open.sessions.map(s => s.id)).toEqual(['s1']);
    expect(describeOpen(open, trans)).toBe(
      '1 open document (a.ipynb) and 1 running kernel'
    );
  });
});

describe('settleBeforeClose', () => {
  const base = {
    root: 'workspaces/e-1',
    name: 'sales-analysis',
    trans,
    report: jest.fn()
  };

  it('closes without asking when nothing is open', async () => {
    const ask = jest.fn();
    const { value } = sources([doc('elsewhere.ipynb')], []);
    const go = await settleBeforeClose({
      ...base,
      sources: value,
      save: true,
      reopened: jest.fn(),
      ask
    });
    expect(go).toBe(true);
    expect(ask).not.toHaveBeenCalled();
  });

  it('saves, closes the documents and shuts the kernels down on "close"', async () => {
    const a = doc('workspaces/e-1/a.ipynb', true);
    const { value, shutdown, running } = sources(
      [a],
      [session('s1', 'workspaces/e-1/a.ipynb')]
    );
    const ask = jest.fn(async () => 'close' as const);
    const go = await settleBeforeClose({
      ...base,
      sources: value,
      save: true,
      reopened: jest.fn(),
      ask
    });
    expect(go).toBe(true);
    expect(ask).toHaveBeenCalled();
    expect(a.context.save).toHaveBeenCalled(); // while the lease is held
    expect(a.close).toHaveBeenCalled();
    expect(shutdown).toHaveBeenCalledWith('s1');
    expect(running).toEqual([]);
  });

  it('keeps documents read-only with a banner on "keep", until reopened', async () => {
    const a = doc('workspaces/e-1/a.ipynb');
    const { value, shutdown } = sources(
      [a],
      [session('s1', 'workspaces/e-1/a.ipynb')]
    );
    let undo: (() => void) | null = null;
    const go = await settleBeforeClose({
      ...base,
      sources: value,
      save: true,
      reopened: u => (undo = u),
      ask: async () => 'keep'
    });
    expect(go).toBe(true);
    expect(a.close).not.toHaveBeenCalled();
    expect(shutdown).toHaveBeenCalledWith('s1');
    // No editable tab that cannot save is left.
    expect(a.context.model.readOnly).toBe(true);
    expect(a.editors.every(e => e.readOnly)).toBe(true);
    expect(a.headers[0].node.textContent).toContain(
      'Workspace "sales-analysis" is closed'
    );
    expect(a.headers[0].node.getAttribute('role')).toBe('alert');
    undo!();
    expect(a.context.model.readOnly).toBe(false);
    expect(a.editors.every(e => !e.readOnly)).toBe(true);
    expect(a.headers[0].isDisposed).toBe(true);
  });

  it('releases nothing when the user cancels', async () => {
    const a = doc('workspaces/e-1/a.ipynb', true);
    const { value, shutdown } = sources([a], []);
    const go = await settleBeforeClose({
      ...base,
      sources: value,
      save: true,
      reopened: jest.fn(),
      ask: async () => null
    });
    expect(go).toBe(false);
    expect(a.context.save).not.toHaveBeenCalled();
    expect(shutdown).not.toHaveBeenCalled();
  });

  it('releases nothing and says why when a save fails', async () => {
    const a = doc('workspaces/e-1/a.ipynb', true, true);
    const { value, shutdown } = sources(
      [a],
      [session('s1', 'workspaces/e-1/a.ipynb')]
    );
    const report = jest.fn();
    const go = await settleBeforeClose({
      ...base,
      report,
      sources: value,
      save: true,
      reopened: jest.fn(),
      ask: async () => 'close'
    });
    expect(go).toBe(false);
    expect(a.close).not.toHaveBeenCalled();
    expect(shutdown).not.toHaveBeenCalled();
    expect(String(report.mock.calls[0][1].message)).toContain(
      'workspaces/e-1/a.ipynb: 423 Locked'
    );
  });
});

describe('closeOpen with jupyter-collaboration', () => {
  /** A collaborative notebook: the server saves it; `serverSaves` says whether it will. */
  function shared(serverSaves: boolean) {
    const a = doc('workspaces/e-1/a.ipynb', true);
    const model: any = a.context.model;
    model.collaborative = true;
    model.stateChanged = new Signal<any, any>(model);
    if (serverSaves) {
      setTimeout(() => {
        model.dirty = false;
        model.stateChanged.emit({
          name: 'dirty',
          oldValue: true,
          newValue: false
        });
      }, 20);
    }
    return a;
  }

  it("waits for the server's own save instead of racing it (no File Changed dialog)", async () => {
    const a = shared(true);
    const errors = await closeOpen(
      { documents: [a as any], sessions: [] },
      jest.fn(),
      { save: true, close: true, collaborativeSaveWait: 5000 }
    );
    expect(errors).toEqual([]);
    expect(a.context.save).not.toHaveBeenCalled();
    expect(a.close).toHaveBeenCalled();
  });

  it('saves from here when the server has not saved in time', async () => {
    const a = shared(false);
    const errors = await closeOpen(
      { documents: [a as any], sessions: [] },
      jest.fn(),
      { save: true, close: true, collaborativeSaveWait: 50 }
    );
    expect(errors).toEqual([]);
    expect(a.context.save).toHaveBeenCalled();
    expect(a.close).toHaveBeenCalled();
  });
});
