import { DocumentRegistry } from '@jupyterlab/docregistry';
import { Contents } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { Title, Widget } from '@lumino/widgets';

import { IWorkspace } from './api';
import { serverPath } from './closing';

/**
 * Names, not ids, wherever a user meets a Workspace's folder.
 *
 * A Workspace lives in `workspaces/<id>` (EMR's ids, kept in the backup key
 * layout and the API), but users know it by name. These helpers only change
 * what is displayed: the file browser's listing and breadcrumbs, the launcher's
 * folder heading and document tab tooltips show the name; paths stay as they are.
 */

/**
 * Which folder belongs to which Workspace, from the panel's list.
 */
export class WorkspaceNames {
  constructor(options: WorkspaceNames.IOptions) {
    this._list = options.list;
    this._trans = options.trans;
    options.changed.connect(this._update, this);
    this._update();
  }

  /**
   * Emitted when a Workspace's folder or name changed.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * The Workspace whose folder is `path` or holds it.
   */
  workspaceOf(path: string): IWorkspace | null {
    let inner = serverPath(path);
    for (;;) {
      const found = this._byFolder.get(inner);
      if (found) {
        return found;
      }
      const cut = inner.lastIndexOf('/');
      if (cut <= 0) {
        return null;
      }
      inner = inner.slice(0, cut);
    }
  }

  /**
   * The Workspace whose folder is exactly `path`.
   */
  folderOf(path: string): IWorkspace | null {
    return this._byFolder.get(serverPath(path)) ?? null;
  }

  /**
   * `path` with its Workspace folder shown as the Workspace's name
   * (`workspaces/e-1/data` → `sales-analysis/data`), or null outside one.
   */
  label(path: string): string | null {
    const workspace = this.workspaceOf(path);
    if (!workspace) {
      return null;
    }
    const rest = serverPath(path).slice(serverPath(workspace.path!).length);
    return workspace.name + rest;
  }

  /**
   * The tooltip line naming the Workspace of `path`, or null.
   */
  tooltip(path: string): string | null {
    const workspace = this.workspaceOf(path);
    return workspace
      ? this._trans.__(
          'EMR Workspace "%1" (%2)',
          workspace.name,
          serverPath(workspace.path!)
        )
      : null;
  }

  private _update(): void {
    const next = new Map<string, IWorkspace>();
    for (const workspace of this._list()) {
      if (workspace.path) {
        next.set(serverPath(workspace.path), workspace);
      }
    }
    const key = (map: Map<string, IWorkspace>) =>
      JSON.stringify([...map].map(([path, ws]) => [path, ws.name]));
    if (key(next) !== key(this._byFolder)) {
      this._byFolder = next;
      this._changed.emit();
    }
  }

  private _list: () => ReadonlyArray<IWorkspace>;
  private _trans: TranslationBundle;
  private _byFolder = new Map<string, IWorkspace>();
  private _changed = new Signal<this, void>(this);
}

export namespace WorkspaceNames {
  export interface IOptions {
    /** The Workspaces the user can see (the panel's list). */
    list: () => ReadonlyArray<IWorkspace>;
    /** Emitted when that list changes. */
    changed: ISignal<unknown, void>;
    trans: TranslationBundle;
  }
}

/**
 * The part of a file browser listing's renderer that draws one item.
 */
export interface IItemRenderer {
  updateItemNode(
    node: HTMLElement,
    model: Contents.IModel,
    ...rest: any[]
  ): void;
}

const labelled = new WeakMap<IItemRenderer, WorkspaceNames>();

/**
 * Draw Workspace folders by name in every listing `renderer` draws.
 *
 * The listing keeps the folder's real name (sorting, renaming, drag and drop
 * use it); only the text shown and the tooltip change. Only the text node's
 * value is set, so the listing's own virtual DOM stays in step.
 */
export function labelListing(
  renderer: IItemRenderer,
  names: WorkspaceNames
): IDisposable {
  if (labelled.has(renderer)) {
    labelled.set(renderer, names);
    return new DisposableDelegate(() => undefined);
  }
  labelled.set(renderer, names);
  const original = renderer.updateItemNode;
  renderer.updateItemNode = function (node, model, ...rest) {
    original.call(this, node, model, ...rest);
    const current = labelled.get(renderer);
    if (current && model.type === 'directory') {
      showName(node, model, current);
    }
  };
  return new DisposableDelegate(() => {
    renderer.updateItemNode = original;
    labelled.delete(renderer);
  });
}

function showName(
  node: HTMLElement,
  model: Contents.IModel,
  names: WorkspaceNames
): void {
  const workspace = names.folderOf(model.path);
  const span = node.querySelector('.jp-DirListing-itemText > span');
  const text = span?.childNodes.length === 1 ? span.firstChild : null;
  if (!workspace || !text || text.nodeType !== Node.TEXT_NODE) {
    // Not a Workspace folder, being renamed, or highlighted by the filter.
    return;
  }
  if (text.nodeValue !== workspace.name) {
    text.nodeValue = workspace.name;
  }
  const line = names.tooltip(model.path)!;
  const previous = node.dataset.emrTooltip;
  const title =
    previous && node.title.startsWith(previous + '\n')
      ? node.title.slice(previous.length + 1)
      : node.title;
  if (node.title !== `${line}\n${title}`) {
    node.title = `${line}\n${title}`;
  }
  node.dataset.emrTooltip = line;
}

/**
 * Show Workspace names in breadcrumbs and launcher headings under `root`.
 *
 * Both are redrawn by JupyterLab at will (the breadcrumbs on each refresh, the
 * launcher by React), so a mutation observer relabels them after each redraw;
 * setting a label is idempotent, so its own change settles at once.
 */
export function labelFolders(
  root: HTMLElement,
  names: WorkspaceNames
): IDisposable {
  const relabel = () => {
    for (const crumb of root.querySelectorAll<HTMLElement>(
      '.jp-BreadCrumbs-item'
    )) {
      const path = crumb.dataset.path ?? crumb.title;
      const workspace = path ? names.folderOf(path) : null;
      if (workspace) {
        setText(crumb, workspace.name);
        const line = names.tooltip(path)!;
        if (crumb.title !== line) {
          crumb.title = line;
        }
      }
    }
    for (const heading of root.querySelectorAll<HTMLElement>(
      '.jp-Launcher-cwd h3'
    )) {
      // The heading shows our label, or React has written a (new) path.
      const ours =
        heading.dataset.emrLabel !== undefined &&
        heading.textContent === heading.dataset.emrLabel;
      const path = ours
        ? (heading.dataset.emrPath ?? '')
        : (heading.textContent ?? '');
      const label = names.label(path);
      if (label !== null) {
        heading.dataset.emrPath = path;
        heading.dataset.emrLabel = label;
        setText(heading, label);
        heading.title = names.tooltip(path)!;
      } else if (heading.dataset.emrLabel !== undefined) {
        // No Workspace (any more): show the path again.
        delete heading.dataset.emrPath;
        delete heading.dataset.emrLabel;
        heading.removeAttribute('title');
        setText(heading, path);
      }
    }
  };
  // Only mutations in or adding breadcrumbs or a launcher: the page mutates
  // all the time (typing in a notebook), and most of it is none of ours.
  const ours = (records: MutationRecord[]) =>
    records.some(record => {
      const target =
        record.target.nodeType === Node.ELEMENT_NODE
          ? (record.target as Element)
          : record.target.parentElement;
      if (target?.closest(SCOPES)) {
        return true;
      }
      return [...record.addedNodes].some(
        node =>
          node.nodeType === Node.ELEMENT_NODE &&
          ((node as Element).matches(SCOPES) ||
            !!(node as Element).querySelector(SCOPES))
      );
    });
  const observer = new MutationObserver(records => {
    if (ours(records)) {
      relabel();
    }
  });
  observer.observe(root, {
    childList: true,
    subtree: true,
    characterData: true
  });
  names.changed.connect(relabel);
  relabel();
  return new DisposableDelegate(() => {
    observer.disconnect();
    names.changed.disconnect(relabel);
  });
}

/** Where breadcrumbs and launcher headings are. */
const SCOPES = '.jp-BreadCrumbs, .jp-Launcher, .jp-Launcher-body';

/** Set an element's only text node (what React or the breadcrumbs own). */
function setText(element: HTMLElement, value: string): void {
  const text = element.firstChild;
  if (element.childNodes.length === 1 && text?.nodeType === Node.TEXT_NODE) {
    if (text.nodeValue !== value) {
      text.nodeValue = value;
    }
  } else if (element.childNodes.length === 0) {
    element.textContent = value;
  }
}

/**
 * A document extension that names the Workspace in the tab's tooltip.
 *
 * The document manager rewrites the caption (path, last saved) as the file
 * changes; the Workspace line is put back in front each time.
 */
export class TabCaptions implements DocumentRegistry.IWidgetExtension<
  Widget,
  DocumentRegistry.IModel
> {
  constructor(private names: WorkspaceNames) {}

  createNew(
    widget: Widget,
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): IDisposable {
    const title = widget.title;
    let ours = '';
    const apply = () => {
      if (title.owner.isDisposed) {
        return;
      }
      const line = this.names.tooltip(context.path);
      const caption = title.caption.startsWith(ours + '\n')
        ? title.caption.slice(ours.length + 1)
        : title.caption;
      ours = line ?? '';
      const next = line ? `${line}\n${caption}` : caption;
      if (next !== title.caption) {
        title.caption = next;
      }
    };
    const onTitle = (_: Title<Widget>) => apply();
    title.changed.connect(onTitle);
    context.pathChanged.connect(apply);
    this.names.changed.connect(apply);
    apply();
    return new DisposableDelegate(() => {
      title.changed.disconnect(onTitle);
      context.pathChanged.disconnect(apply);
      this.names.changed.disconnect(apply);
    });
  }
}
