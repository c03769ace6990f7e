import { Dialog, showDialog } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { Session } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

/**
 * What is open in a Workspace's folder when it is closed or deleted.
 *
 * Closing releases the lease and deleting removes the working copy, so a tab
 * left open and editable would lose every later edit (the server refuses or,
 * with jupyter-collaboration, drops it). This module finds those documents
 * and kernels, asks the user what to do with them, and does it.
 */

/**
 * A document widget as found in the shell (the part of `IDocumentWidget` used).
 */
export interface IOpenDocument {
  context: DocumentRegistry.IContext<DocumentRegistry.IModel>;
  contentHeader?: { addWidget(widget: Widget): void };
  content?: unknown;
  close(): void;
  isDisposed: boolean;
}

export interface IOpenInFolder {
  documents: IOpenDocument[];
  /** Sessions (notebooks, consoles) whose path is in the folder. */
  sessions: Session.IModel[];
}

/**
 * The path of a document without its drive prefix (`RTC:workspaces/…`).
 */
export function serverPath(path: string): string {
  return path
    .replace(/^[^/:]+:/, '')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '');
}

/**
 * Whether `path` is `root` or inside it (both relative to the server root).
 */
export function inFolder(path: string, root: string): boolean {
  const inner = serverPath(path);
  const outer = serverPath(root);
  return !!outer && (inner === outer || inner.startsWith(outer + '/'));
}

function isDocument(widget: unknown): widget is IOpenDocument {
  const context = (widget as IOpenDocument | null)?.context;
  return (
    !!context &&
    typeof context.path === 'string' &&
    typeof (widget as IOpenDocument).close === 'function'
  );
}

/**
 * The documents among `widgets` and the `sessions` that are in `root`.
 */
export function openInFolder(
  root: string,
  widgets: Iterable<unknown>,
  sessions: Iterable<Session.IModel>
): IOpenInFolder {
  const documents: IOpenDocument[] = [];
  for (const widget of widgets) {
    if (
      isDocument(widget) &&
      !widget.isDisposed &&
      inFolder(widget.context.path, root)
    ) {
      documents.push(widget);
    }
  }
  return {
    documents,
    sessions: [...sessions].filter(session => inFolder(session.path, root))
  };
}

/**
 * "2 documents (a.ipynb, b.py) and 1 running kernel", or '' when nothing is open.
 */
export function describeOpen(
  open: IOpenInFolder,
  trans: TranslationBundle
): string {
  const names = [
    ...new Set(
      open.documents.map(doc => serverPath(doc.context.path).split('/').pop())
    )
  ].join(', ');
  const docs = open.documents.length
    ? trans._n(
        '%1 open document (%2)',
        '%1 open documents (%2)',
        open.documents.length,
        names
      )
    : '';
  const kernels = open.sessions.length
    ? trans._n('%1 running kernel', '%1 running kernels', open.sessions.length)
    : '';
  return docs && kernels
    ? trans.__('%1 and %2', docs, kernels)
    : docs || kernels;
}

export type CloseChoice = 'close' | 'keep' | null;

/**
 * Ask what to do with what is open before closing Workspace `name`.
 *
 * Resolves 'close' (save, close the documents, shut the kernels down), 'keep'
 * (shut the kernels down, keep the documents open read-only) or null (cancel).
 */
export async function askBeforeClose(
  trans: TranslationBundle,
  name: string,
  open: IOpenInFolder
): Promise<CloseChoice> {
  const result = await showDialog({
    title: trans.__('Close EMR Workspace'),
    body: trans.__(
      'Workspace "%1" has %2. Once it is closed, this server no longer saves changes to its files. Close them (unsaved changes are saved first, kernels are shut down), or keep the documents open read-only (kernels are shut down; nothing you type there can be saved)?',
      name,
      describeOpen(open, trans)
    ),
    defaultButton: 2,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({
        label: trans.__('Keep open read-only'),
        displayType: 'default',
        actions: ['keep']
      }),
      Dialog.okButton({
        label: trans.__('Close them'),
        actions: ['close']
      })
    ]
  });
  if (!result.button.accept) {
    return null;
  }
  return result.button.actions.includes('keep') ? 'keep' : 'close';
}

/**
 * How long to wait for jupyter-collaboration's own save of a document (its
 * `document_save_delay` is 1 s by default) before saving from here.
 */
const COLLABORATIVE_SAVE_WAIT = 10000;

/**
 * Resolves true once `model` is no longer dirty, false after `ms`.
 */
export function whenClean(
  model: DocumentRegistry.IModel,
  ms: number
): Promise<boolean> {
  if (!model.dirty) {
    return Promise.resolve(true);
  }
  return new Promise<boolean>(resolve => {
    const changed = (): void => {
      if (!model.dirty) {
        done(true);
      }
    };
    const timer = setTimeout(() => done(false), ms);
    const done = (clean: boolean): void => {
      clearTimeout(timer);
      model.stateChanged.disconnect(changed);
      resolve(clean);
    };
    model.stateChanged.connect(changed);
  });
}

/**
 * Save what is unsaved (while the lease is still held), then close the
 * documents and shut the kernels down. Resolves with the errors met, so the
 * caller can stop before releasing anything that could not be saved.
 */
export async function closeOpen(
  open: IOpenInFolder,
  shutdown: (id: string) => Promise<void>,
  options: {
    save: boolean;
    close: boolean;
    sessions?: boolean;
    collaborativeSaveWait?: number;
  }
): Promise<string[]> {
  const errors: string[] = [];
  if (options.save) {
    for (const doc of open.documents) {
      if (doc.context.model.dirty && !doc.context.model.readOnly) {
        try {
          // With jupyter-collaboration the server saves the shared document
          // itself (about a second after the last change); a save from here
          // races that write and JupyterLab then asks "File Changed:
          // Overwrite or Revert?", which blocks the close. Wait for the
          // server's save, and save from here only if it does not come.
          if (
            doc.context.model.collaborative &&
            (await whenClean(
              doc.context.model,
              options.collaborativeSaveWait ?? COLLABORATIVE_SAVE_WAIT
            ))
          ) {
            continue;
          }
          await doc.context.save();
        } catch (error) {
          errors.push(
            `${serverPath(doc.context.path)}: ${
              error instanceof Error ? error.message : String(error)
            }`
          );
        }
      }
    }
    if (errors.length) {
      return errors;
    }
  }
  for (const session of options.sessions === false ? [] : open.sessions) {
    try {
      await shutdown(session.id);
    } catch (error) {
      errors.push(
        `${session.path}: ${error instanceof Error ? error.message : String(error)}`
      );
    }
  }
  if (options.close) {
    for (const doc of open.documents) {
      if (!doc.isDisposed) {
        // Saved above: closing asks nothing more.
        doc.context.model.dirty = false;
        doc.close();
      }
    }
  }
  return errors;
}

/**
 * Keep `documents` open read-only after their Workspace `name` is closed: the
 * model is marked read-only (JupyterLab's title and save command say so), the
 * editors stop taking input, and a banner says why and how to edit again.
 * Returns a function that undoes it (when the Workspace is opened again).
 */
export function keepReadOnly(
  documents: IOpenDocument[],
  name: string,
  trans: TranslationBundle
): () => void {
  const undo: (() => void)[] = [];
  for (const doc of documents) {
    if (doc.isDisposed) {
      continue;
    }
    const model = doc.context.model;
    const before = model.readOnly;
    model.readOnly = true;
    const editors = editorsOf(doc.content);
    for (const editor of editors) {
      editor.setOption('readOnly', true);
    }
    const banner = new Widget();
    banner.addClass('jp-EmrWorkspace-banner');
    banner.addClass('jp-EmrWorkspace-closedBanner');
    banner.node.setAttribute('role', 'alert');
    banner.node.textContent = trans.__(
      'Read-only: Workspace "%1" is closed, so changes to this document cannot be saved. Open the Workspace again from the EMR Workspaces panel to edit it.',
      name
    );
    doc.contentHeader?.addWidget(banner);
    undo.push(() => {
      banner.dispose();
      if (!doc.isDisposed) {
        model.readOnly = before;
        for (const editor of editors) {
          editor.setOption('readOnly', false);
        }
      }
    });
  }
  return () => undo.forEach(step => step());
}

interface IEditorLike {
  setOption(name: string, value: unknown): void;
}

/**
 * The code editors of a file editor or of a notebook's cells.
 */
function editorsOf(content: unknown): IEditorLike[] {
  const editors: IEditorLike[] = [];
  const add = (editor: unknown) => {
    if (
      editor &&
      typeof (editor as IEditorLike).setOption === 'function' &&
      !editors.includes(editor as IEditorLike)
    ) {
      editors.push(editor as IEditorLike);
    }
  };
  const holder = content as {
    editor?: unknown;
    widgets?: readonly { editor?: unknown }[];
  } | null;
  add(holder?.editor);
  for (const cell of holder?.widgets ?? []) {
    add(cell.editor);
  }
  return editors;
}

/**
 * Where open documents and sessions are found, and how a session ends
 * (JupyterLab's shell and session manager; a stand-in in tests).
 */
export interface IOpenSources {
  widgets: () => Iterable<unknown>;
  sessions: {
    refreshRunning(): Promise<void>;
    running(): Iterable<Session.IModel>;
    shutdown(id: string): Promise<void>;
  };
}

/**
 * What is open in `root` now (sessions refreshed from the server first).
 */
export async function findOpen(
  sources: IOpenSources,
  root: string
): Promise<IOpenInFolder> {
  await sources.sessions.refreshRunning().catch(() => undefined);
  return openInFolder(root, sources.widgets(), sources.sessions.running());
}

/**
 * Before Workspace `workspaceId` (folder `root`) is closed: when documents or
 * kernels are open in it, ask, then close them or keep them read-only until it
 * is opened again (`reopened` tells when). Resolves false when the user
 * cancels or something could not be saved (then nothing is released).
 */
export async function settleBeforeClose(options: {
  sources: IOpenSources;
  root: string;
  name: string;
  save: boolean;
  trans: TranslationBundle;
  reopened: (undo: () => void) => void;
  report: (what: string, error: Error) => void;
  ask?: typeof askBeforeClose;
}): Promise<boolean> {
  const { sources, root, name, trans } = options;
  const open = await findOpen(sources, root);
  if (!open.documents.length && !open.sessions.length) {
    return true;
  }
  const choice = await (options.ask ?? askBeforeClose)(trans, name, open);
  if (!choice) {
    return false;
  }
  const errors = await closeOpen(open, id => sources.sessions.shutdown(id), {
    save: options.save,
    close: choice === 'close'
  });
  if (errors.length) {
    options.report(
      trans.__('Not everything open in Workspace "%1" could be closed:', name),
      new Error(errors.join('; '))
    );
    if (options.save && open.documents.some(doc => doc.context.model.dirty)) {
      return false;
    }
  }
  if (choice === 'keep') {
    options.reopened(keepReadOnly(open.documents, name, trans));
  }
  return true;
}
