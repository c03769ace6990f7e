import { DocumentRegistry } from '@jupyterlab/docregistry';
import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { IWorkspace } from '../api';
import { ApiError } from '../handler';
import { LeaseKeeper, WorkspaceListModel } from '../models';
import { RefusedSaveWatcher, SAVE_COMMAND } from '../saves';

const trans = nullTranslator.load('jupyter_emr_workspace');

function workspace(overrides: Partial<IWorkspace> = {}): IWorkspace {
  return {
    id: 'e-1',
    name: 'churn',
    description: '',
    created_by: 'alice',
    created_at: '2024-01-01T00:00:00Z',
    tags: {},
    collaboration: { enabled: false, collaborators: [] },
    attachment: null,
    lock: null,
    path: 'workspaces/e-1',
    ...overrides
  };
}

const heldBy = (user: string) => ({
  holders: [
    { user, since: '2024-01-01T10:00:00Z', expires_at: '2999-01-01T00:00:00Z' }
  ],
  generation: 2
});

function mockClient(current: IWorkspace): any {
  return {
    getStudio: jest.fn(async () => ({
      id: 'es-1',
      name: 'Analytics',
      version: '0.1.0',
      user: { name: 'alice', groups: [] },
      permissions: {},
      backup_uri: 's3://b/p',
      lease_seconds: 90,
      heartbeat_seconds: 30,
      autosave_interval: 60
    })),
    listWorkspaces: jest.fn(async () => [current]),
    getWorkspace: jest.fn(async () => current),
    openWorkspace: jest.fn(async () => ({
      workspace: current,
      lease: { token: 'tok', generation: 1, expires_at: '2999-01-01' },
      path: current.path
    })),
    heartbeat: jest.fn(async () => ({})),
    closeWorkspace: jest.fn(async () => undefined)
  };
}

/**
 * A document context as the watcher sees it: a path, a model that may be
 * collaborative and dirty, and the save state signal.
 */
function fakeContext(path: string, collaborative: boolean) {
  const owner = {};
  const saveState = new Signal<any, DocumentRegistry.SaveState>(owner);
  const context = {
    path,
    model: { dirty: true, collaborative },
    saveState
  };
  return {
    context:
      context as unknown as DocumentRegistry.IContext<DocumentRegistry.IModel>,
    /**
     * The user edits and saves; the save ends as JupyterLab sees it, or never
     * (the room dropped the save request).
     */
    save(outcome: 'completed' | 'failed' | 'never' = 'completed') {
      context.model.dirty = true;
      saveState.emit('started');
      if (outcome !== 'never') {
        context.model.dirty = outcome === 'failed';
        saveState.emit(outcome);
      }
    },
    saveClean() {
      context.model.dirty = false;
      saveState.emit('started');
      saveState.emit('completed');
    }
  };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

async function setup(current: IWorkspace) {
  const client = mockClient(current);
  const model = new WorkspaceListModel({
    client,
    frontendVersion: '0.1.0',
    autoStart: false,
    standby: 'never'
  });
  await model.refresh();
  const keeper = new LeaseKeeper({ client, target: null });
  const notify = jest.fn((message: string, previous: string | null) => 'n-1');
  const watcher = new RefusedSaveWatcher({
    keeper,
    model,
    client,
    trans,
    notify
  });
  return { client, model, keeper, notify, watcher };
}

describe('RefusedSaveWatcher', () => {
  const disposables: { dispose(): void }[] = [];
  afterEach(() => {
    disposables.splice(0).forEach(d => d.dispose());
  });

  it('says why a save dropped by a collaboration room was not written, naming the holder', async () => {
    const { model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('bob') })
    );
    disposables.push(model, keeper);
    const doc = fakeContext('RTC:workspaces/e-1/analysis.ipynb', true);
    disposables.push(watcher.createNew(new Widget(), doc.context));

    doc.save();
    await flush();
    expect(notify).toHaveBeenCalledTimes(1);
    const message = notify.mock.calls[0][0];
    expect(message).toMatch(
      /^Your changes to "analysis.ipynb" were not saved: Workspace "churn" is read-only for you \(bob has been editing it since .+\)\. Copy your changes elsewhere/
    );

    // The next refused save replaces the notification instead of piling up;
    // whether the room never answers, or answers a bare failure.
    doc.save('never');
    await flush();
    expect(notify).toHaveBeenCalledTimes(2);
    expect(notify.mock.calls[1][1]).toBe('n-1');
    expect(notify.mock.calls[1][0]).toBe(message);
    doc.save('failed');
    await flush();
    expect(notify).toHaveBeenCalledTimes(3);
  });

  it('says so for a tab that lost its lease too', async () => {
    const { client, model, keeper, notify, watcher } = await setup(workspace());
    disposables.push(model, keeper);
    await keeper.open(workspace());
    client.heartbeat.mockImplementation(async () => {
      throw new ApiError(409, 'LeaseLost', 'bob took over');
    });
    client.getWorkspace.mockImplementation(async () =>
      workspace({ lock: heldBy('bob') })
    );
    await keeper.heartbeat();
    expect(keeper.state.mode).toBe('read-only');
    const doc = fakeContext('workspaces/e-1/a.py', true);
    disposables.push(watcher.createNew(new Widget(), doc.context));
    doc.save();
    await flush();
    expect(notify.mock.calls[0][0]).toContain('bob has been editing it');
  });

  it('says nothing when this tab holds the lease', async () => {
    const { client, model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('alice') })
    );
    disposables.push(model, keeper);
    await keeper.open(workspace());
    const doc = fakeContext('workspaces/e-1/analysis.ipynb', true);
    disposables.push(watcher.createNew(new Widget(), doc.context));
    doc.save();
    await flush();
    expect(notify).not.toHaveBeenCalled();
    expect(client.getWorkspace).not.toHaveBeenCalled();
  });

  it('says nothing when the user holds it from another tab', async () => {
    const { client, model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('alice') })
    );
    disposables.push(model, keeper);
    const doc = fakeContext('workspaces/e-1/analysis.ipynb', true);
    disposables.push(watcher.createNew(new Widget(), doc.context));
    doc.save();
    await flush();
    expect(client.getWorkspace).toHaveBeenCalledWith('e-1');
    expect(notify).not.toHaveBeenCalled();
  });

  it('leaves documents outside Workspaces, saves without changes and REST saves alone', async () => {
    const { client, model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('bob') })
    );
    disposables.push(model, keeper);
    // Outside any Workspace (and a folder whose name only starts alike).
    for (const path of ['notes/a.ipynb', 'workspaces/e-10/a.ipynb']) {
      const doc = fakeContext(path, true);
      disposables.push(watcher.createNew(new Widget(), doc.context));
      doc.save();
    }
    // Nothing to lose.
    const clean = fakeContext('workspaces/e-1/a.ipynb', true);
    disposables.push(watcher.createNew(new Widget(), clean.context));
    clean.saveClean();
    // Without collaboration a save goes through the contents API: completed
    // means written, refused means failed (JupyterLab's own dialog shows the
    // server's 423 message).
    const rest = fakeContext('workspaces/e-1/a.ipynb', false);
    disposables.push(watcher.createNew(new Widget(), rest.context));
    rest.save('completed');
    rest.save('failed');
    await flush();
    expect(client.getWorkspace).not.toHaveBeenCalled();
    expect(notify).not.toHaveBeenCalled();
  });

  it('still warns when the server cannot say who holds the Workspace', async () => {
    const { client, model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('bob') })
    );
    disposables.push(model, keeper);
    client.getWorkspace.mockImplementation(async () => {
      throw new ApiError(
        503,
        'StoreUnavailable',
        "The Studio's store s3://b/p is unavailable"
      );
    });
    const doc = fakeContext('workspaces/e-1/a.ipynb', true);
    disposables.push(watcher.createNew(new Widget(), doc.context));
    doc.save();
    await flush();
    expect(notify.mock.calls[0][0]).toBe(
      'Your changes to "a.ipynb" may not have been saved: Workspace "churn" is not open for editing in this tab, and the server could not say who holds it (The Studio\'s store s3://b/p is unavailable).'
    );
  });

  it('names the holder when JupyterLab refuses to save a file the server said is not writable', async () => {
    const { client, model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('bob') })
    );
    disposables.push(model, keeper);
    // JupyterLab's save command stops before any request for such a file.
    const commands = new CommandRegistry();
    commands.addCommand(SAVE_COMMAND, { execute: () => undefined });
    let current: Widget | null = null;
    disposables.push(watcher.watchSaveCommand(commands, () => current));
    const open = (path: string, writable: boolean) => {
      const doc = fakeContext(path, false);
      (doc.context as any).contentsModel = { writable };
      const widget = new Widget();
      disposables.push(watcher.createNew(widget, doc.context));
      return { doc, widget };
    };
    const readOnly = open('workspaces/e-1/a.ipynb', false);
    current = readOnly.widget;
    await commands.execute(SAVE_COMMAND);
    await flush();
    expect(notify).toHaveBeenCalledTimes(1);
    expect(notify.mock.calls[0][0]).toMatch(
      /^Your changes to "a.ipynb" were not saved: Workspace "churn" is read-only for you \(bob has been editing it since .+\)/
    );

    // Nothing to lose, a writable file (its save request answers for itself),
    // another command, or a document that is not current: no notice.
    (readOnly.doc.context.model as any).dirty = false;
    await commands.execute(SAVE_COMMAND);
    current = open('workspaces/e-1/b.ipynb', true).widget;
    await commands.execute(SAVE_COMMAND);
    commands.addCommand('other', { execute: () => undefined });
    current = open('workspaces/e-1/c.ipynb', false).widget;
    await commands.execute('other');
    current = new Widget();
    await commands.execute(SAVE_COMMAND);
    await flush();
    expect(notify).toHaveBeenCalledTimes(1);
    expect(client.getWorkspace).toHaveBeenCalledTimes(1);
  });

  it('reloads clean documents opened read-only once this tab takes the lease, and keeps unsaved changes', async () => {
    const { model, keeper, watcher } = await setup(workspace());
    disposables.push(model, keeper);
    const open = (path: string, writable: boolean, dirty: boolean) => {
      const doc = fakeContext(path, false);
      Object.assign(doc.context, {
        contentsModel: { writable },
        revert: jest.fn(async () => undefined)
      });
      (doc.context.model as any).dirty = dirty;
      disposables.push(watcher.createNew(new Widget(), doc.context));
      return doc.context.revert as jest.Mock;
    };
    const readOnly = open('workspaces/e-1/a.ipynb', false, false);
    const edited = open('workspaces/e-1/b.ipynb', false, true);
    const writable = open('workspaces/e-1/c.ipynb', true, false);
    const outside = open('notes/d.ipynb', false, false);
    await keeper.open(workspace());
    expect(keeper.state.mode).toBe('editing');
    expect(readOnly).toHaveBeenCalledTimes(1);
    expect(edited).not.toHaveBeenCalled();
    expect(writable).not.toHaveBeenCalled();
    expect(outside).not.toHaveBeenCalled();
    // Heartbeats while editing reload nothing again.
    await keeper.heartbeat();
    expect(readOnly).toHaveBeenCalledTimes(1);
  });

  it('stops watching a closed document', async () => {
    const { model, keeper, notify, watcher } = await setup(
      workspace({ lock: heldBy('bob') })
    );
    disposables.push(model, keeper);
    const doc = fakeContext('workspaces/e-1/a.ipynb', true);
    watcher.createNew(new Widget(), doc.context).dispose();
    doc.save();
    await flush();
    expect(notify).not.toHaveBeenCalled();
  });
});
