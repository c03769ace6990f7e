import { Notification } from '@jupyterlab/apputils';
import { Time } from '@jupyterlab/coreutils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { EmrWorkspaceClient, IWorkspace } from './api';
import { errorText } from './handler';
import {
  ILeaseState,
  LeaseKeeper,
  WorkspaceListModel,
  workspaceState
} from './models';

/**
 * The path of a document without its drive prefix (`RTC:workspaces/…`).
 */
function serverPath(path: string): string {
  return path.replace(/^[^/:]+:/, '').replace(/^\/+/, '');
}

/**
 * JupyterLab's save command (Ctrl+S, the File menu, the toolbar).
 */
export const SAVE_COMMAND = 'docmanager:save';

/**
 * Tells the user when a save of a document inside a Workspace is refused.
 *
 * Without jupyter-collaboration a refused save is a failed contents request
 * (423, its message names the holder) and JupyterLab shows it in its "File
 * Save Error" dialog. With jupyter-collaboration, edits and the save request
 * travel through the document's room, which drops those of a user without the
 * lease: depending on the server the save then never answers, fails with a
 * bare "Saving failed", or "completes" with nothing written. So this watcher
 * acts when such a save starts (a collaborative document with unsaved
 * changes, in a Workspace this tab does not hold): it asks the server who
 * holds the Workspace and, when it is not this user, shows an error naming
 * why, so no edit vanishes silently.
 *
 * Without jupyter-collaboration the server says `writable: false` of a file
 * in a Workspace this user does not hold, so that JupyterLab opens it for
 * reading; its save command then stops before any request with a bare "is
 * read-only". `watchSaveCommand` shows the same error naming the holder.
 */
export class RefusedSaveWatcher implements DocumentRegistry.IWidgetExtension<
  Widget,
  DocumentRegistry.IModel
> {
  constructor(options: RefusedSaveWatcher.IOptions) {
    this._keeper = options.keeper;
    this._model = options.model;
    this._client = options.client;
    this._trans = options.trans;
    this._notify =
      options.notify ??
      ((message, previous) => {
        if (previous) {
          Notification.dismiss(previous);
        }
        return Notification.error(message, { autoClose: false });
      });
    this._keeper.stateChanged.connect(this._onLeaseState, this);
  }

  createNew(
    widget: Widget,
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): IDisposable {
    this._contexts.set(widget, context);
    const onSaveState = (
      _: unknown,
      state: DocumentRegistry.SaveState
    ): void => {
      if (
        state === 'started' &&
        context.model.dirty &&
        context.model.collaborative
      ) {
        void this.check(context.path);
      }
    };
    context.saveState.connect(onSaveState);
    return new DisposableDelegate(() => {
      context.saveState.disconnect(onSaveState);
      this._contexts.delete(widget);
    });
  }

  /**
   * Check each save of the current document that JupyterLab refuses itself
   * because the server said it is not writable (with unsaved changes; a
   * collaborative document's save is checked when it starts).
   */
  watchSaveCommand(
    commands: CommandRegistry,
    current: () => Widget | null
  ): IDisposable {
    const onExecuted = (
      _: CommandRegistry,
      executed: CommandRegistry.ICommandExecutedArgs
    ): void => {
      const widget = executed.id === SAVE_COMMAND ? current() : null;
      const context = widget ? this._contexts.get(widget) : undefined;
      if (
        context &&
        context.contentsModel?.writable === false &&
        context.model.dirty &&
        !context.model.collaborative
      ) {
        void this.check(context.path);
      }
    };
    commands.commandExecuted.connect(onExecuted);
    return new DisposableDelegate(() => {
      commands.commandExecuted.disconnect(onExecuted);
    });
  }

  /**
   * Check a save of `path` going through a collaboration room, and show an
   * error when the server refuses it. Resolves with the message shown, or null
   * when the save is not refused.
   */
  async check(path: string): Promise<string | null> {
    const file = serverPath(path);
    const workspace =
      this._workspaceOf(file) ?? (await this._workspaceByPath(file));
    if (!workspace) {
      return null;
    }
    const state = this._keeper.state;
    if (
      state.mode === 'editing' &&
      state.workspace?.id === workspace.id &&
      this._keeper.contains(file)
    ) {
      return null;
    }
    const name = file.split('/').pop() ?? file;
    let message: string;
    try {
      const [current, user] = await Promise.all([
        this._client.getWorkspace(workspace.id),
        this._user()
      ]);
      const held = workspaceState(current, user);
      if (
        held.kind === 'mine' ||
        (held.kind === 'collaborative' &&
          held.holders.some(holder => holder.user === user))
      ) {
        return null; // this user holds it (from another tab, say)
      }
      const holder =
        held.kind === 'in-use'
          ? held.holder
          : held.kind === 'collaborative'
            ? held.holders[0]
            : null;
      message = this._trans.__(
        'Your changes to "%1" were not saved: Workspace "%2" is read-only for you%3. Copy your changes elsewhere, and open the Workspace from the EMR Workspaces panel to edit it.',
        name,
        current.name,
        holder
          ? this._trans.__(
              ' (%1 has been editing it since %2)',
              holder.user,
              holder.since ? Time.formatHuman(new Date(holder.since)) : '?'
            )
          : this._trans.__(' (you do not hold its lease)')
      );
    } catch (error) {
      message = this._trans.__(
        'Your changes to "%1" may not have been saved: Workspace "%2" is not open for editing in this tab, and the server could not say who holds it (%3).',
        name,
        workspace.name,
        errorText(error)
      );
    }
    this._shown.set(
      file,
      this._notify(message, this._shown.get(file) ?? null) ?? ''
    );
    return message;
  }

  /**
   * When this tab takes a Workspace's lease, reload its documents that were
   * opened read-only before (`writable: false`) and have no unsaved changes,
   * so that JupyterLab saves them again. One with changes keeps them: its
   * save says it is read-only, and *Save As* keeps them.
   */
  private _onLeaseState(_: LeaseKeeper, state: ILeaseState): void {
    const took =
      state.mode === 'editing' && this._editing !== state.workspace?.id;
    this._editing =
      state.mode === 'editing' ? (state.workspace?.id ?? null) : null;
    if (!took) {
      return;
    }
    for (const context of this._contexts.values()) {
      if (
        context.contentsModel?.writable === false &&
        !context.model.dirty &&
        !context.model.collaborative &&
        this._keeper.contains(serverPath(context.path))
      ) {
        void context.revert().catch(() => undefined); // JupyterLab shows why
      }
    }
  }

  private _workspaceOf(path: string): IWorkspace | null {
    const candidates = [...this._model.workspaces];
    const open = this._keeper.state.workspace;
    if (open) {
      candidates.push(open);
    }
    for (const workspace of candidates) {
      const root = serverPath(workspace.path ?? '').replace(/\/+$/, '');
      if (root && (path === root || path.startsWith(root + '/'))) {
        return workspace;
      }
    }
    return null;
  }

  /**
   * The Workspace whose folder holds `path`, asked of the server: the list the
   * panel polls is empty while the panel has never been shown.
   */
  private async _workspaceByPath(path: string): Promise<IWorkspace | null> {
    try {
      const studio = this._model.studio ?? (await this._client.getStudio());
      const dir = (studio.workspaces_dir ?? '').replace(/^\/+|\/+$/g, '');
      if (!dir || !path.startsWith(dir + '/')) {
        return null;
      }
      const id = path.slice(dir.length + 1).split('/')[0];
      return /^e-[0-9A-Z]+$/.test(id)
        ? await this._client.getWorkspace(id)
        : null;
    } catch {
      return null;
    }
  }

  private async _user(): Promise<string | undefined> {
    return (
      this._model.studio?.user.name ??
      (await this._client.getStudio()).user.name
    );
  }

  private _keeper: LeaseKeeper;
  private _model: WorkspaceListModel;
  private _client: EmrWorkspaceClient;
  private _trans: TranslationBundle;
  private _notify: (message: string, previous: string | null) => string | void;
  private _shown = new Map<string, string>();
  private _editing: string | null = null;
  private _contexts = new Map<
    Widget,
    DocumentRegistry.IContext<DocumentRegistry.IModel>
  >();
}

export namespace RefusedSaveWatcher {
  export interface IOptions {
    keeper: LeaseKeeper;
    model: WorkspaceListModel;
    client: EmrWorkspaceClient;
    trans: TranslationBundle;
    /**
     * Show `message` (default: a notification that stays), replacing the one
     * shown before for the same document; returns its id.
     */
    notify?: (message: string, previous: string | null) => string | void;
  }
}
