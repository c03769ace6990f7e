import { Context, DocumentRegistry } from '@jupyterlab/docregistry';
import { DirListing } from '@jupyterlab/filebrowser';
import { Contents } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { IWorkspace } from '../api';
import {
  labelFolders,
  labelListing,
  TabCaptions,
  WorkspaceNames
} from '../names';

const trans = nullTranslator.load('jupyter_emr_workspace');

function workspace(id: string, name: string): IWorkspace {
  return {
    id,
    name,
    description: '',
    created_by: 'alice',
    created_at: '2024-01-01T00:00:00Z',
    tags: {},
    collaboration: { enabled: false, collaborators: [] },
    attachment: null,
    lock: null,
    path: `workspaces/${id}`
  };
}

/** Names from a list the test changes, as the panel's model would. */
function names(...workspaces: IWorkspace[]) {
  const list = { items: workspaces };
  const changed = new Signal<unknown, void>(list);
  const value = new WorkspaceNames({
    list: () => list.items,
    changed,
    trans
  });
  const set = (...next: IWorkspace[]) => {
    list.items = next;
    changed.emit();
  };
  return { value, set };
}

function folder(path: string): Contents.IModel {
  return {
    name: path.split('/').pop()!,
    path,
    type: 'directory',
    writable: true,
    created: '2024-01-01T00:00:00Z',
    last_modified: '2024-01-01T00:00:00Z',
    mimetype: '',
    content: null,
    format: null
  };
}

/** Let the mutation observers run. */
const observed = () => new Promise(resolve => setTimeout(resolve, 0));

describe('WorkspaceNames', () => {
  const { value } = names(
    workspace('e-1', 'sales-analysis'),
    workspace('e-10', 'churn')
  );

  it('shows the folder, and what is below it, under the Workspace name', () => {
    expect(value.label('workspaces/e-1')).toBe('sales-analysis');
    expect(value.label('/workspaces/e-1/data/')).toBe('sales-analysis/data');
    expect(value.label('RTC:workspaces/e-10/a.ipynb')).toBe('churn/a.ipynb');
  });

  it('leaves alone what is in no Workspace, even with a similar prefix', () => {
    expect(value.label('workspaces')).toBeNull();
    expect(value.label('workspaces/e-100')).toBeNull();
    expect(value.label('notes/e-1')).toBeNull();
    expect(value.folderOf('workspaces/e-1/data')).toBeNull();
  });

  it('keeps the id in the tooltip', () => {
    expect(value.tooltip('workspaces/e-1/a.ipynb')).toBe(
      'EMR Workspace "sales-analysis" (workspaces/e-1)'
    );
  });
});

describe('labelListing', () => {
  it("draws a Workspace's folder by its name and keeps its real name elsewhere", () => {
    const { value, set } = names(workspace('e-1', 'sales-analysis'));
    const renderer = new DirListing.Renderer();
    const undo = labelListing(renderer, value);
    const node = renderer.createItemNode();
    const text = () =>
      node.querySelector('.jp-DirListing-itemText')!.textContent;
    renderer.updateItemNode(node, folder('workspaces/e-1'));
    expect(text()).toBe('sales-analysis');
    expect(node.title).toMatch(
      /^EMR Workspace "sales-analysis" \(workspaces\/e-1\)\nName: e-1/
    );

    // A redraw (selection) keeps it; a rename of the Workspace shows.
    renderer.updateItemNode(
      node,
      folder('workspaces/e-1'),
      undefined,
      undefined,
      undefined,
      true
    );
    expect(text()).toBe('sales-analysis');
    set({ ...workspace('e-1', 'sales-2025') });
    renderer.updateItemNode(node, folder('workspaces/e-1'));
    expect(text()).toBe('sales-2025');
    expect(node.title).toMatch(
      /^EMR Workspace "sales-2025" \(workspaces\/e-1\)\nName: e-1/
    );

    const other = renderer.createItemNode();
    renderer.updateItemNode(other, folder('workspaces/e-2'));
    expect(other.querySelector('.jp-DirListing-itemText')!.textContent).toBe(
      'e-2'
    );

    undo.dispose();
    const plain = renderer.createItemNode();
    renderer.updateItemNode(plain, folder('workspaces/e-1'));
    expect(plain.querySelector('.jp-DirListing-itemText')!.textContent).toBe(
      'e-1'
    );
  });
});

describe('labelFolders', () => {
  let root: HTMLElement;
  beforeEach(() => {
    root = document.createElement('div');
    document.body.appendChild(root);
  });
  afterEach(() => root.remove());

  /** Breadcrumbs as the file browser draws them. */
  function crumbs(path: string) {
    const parts = path.split('/');
    const container = document.createElement('div');
    container.className = 'jp-BreadCrumbs';
    container.replaceChildren(
      ...parts.map((part, i) => {
        const elem = document.createElement('span');
        elem.className = 'jp-BreadCrumbs-item';
        elem.textContent = part;
        elem.title = parts.slice(0, i + 1).join('/');
        elem.dataset.path = elem.title;
        return elem;
      })
    );
    return container;
  }

  it('names the Workspace in breadcrumbs, each time they are redrawn', async () => {
    const { value } = names(workspace('e-1', 'sales-analysis'));
    const done = labelFolders(root, value);
    const container = crumbs('workspaces/e-1/data');
    root.appendChild(container);
    await observed();
    const texts = () =>
      [...container.querySelectorAll('.jp-BreadCrumbs-item')].map(
        e => e.textContent
      );
    expect(texts()).toEqual(['workspaces', 'sales-analysis', 'data']);
    container.replaceChildren(...crumbs('workspaces/e-1').childNodes);
    await observed();
    expect(texts()).toEqual(['workspaces', 'sales-analysis']);
    done.dispose();
  });

  it("names the Workspace in the launcher's folder heading, and follows the launcher", async () => {
    const { value, set } = names(workspace('e-1', 'sales-analysis'));
    const done = labelFolders(root, value);
    // As the launcher draws it.
    root.innerHTML =
      '<div class="jp-Launcher-body"><div class="jp-Launcher-content">' +
      '<div class="jp-Launcher-cwd"><h3>workspaces/e-1/data</h3></div>' +
      '</div></div>';
    const heading = root.querySelector('h3')!;
    await observed();
    expect(heading.textContent).toBe('sales-analysis/data');
    expect(heading.title).toBe(
      'EMR Workspace "sales-analysis" (workspaces/e-1)'
    );
    // React writes the new folder into the same text node.
    heading.firstChild!.nodeValue = 'notes';
    await observed();
    expect(heading.textContent).toBe('notes');
    heading.firstChild!.nodeValue = 'workspaces/e-1';
    await observed();
    expect(heading.textContent).toBe('sales-analysis');
    // The Workspace is gone: the path shows again.
    set();
    await observed();
    expect(heading.textContent).toBe('workspaces/e-1');
    done.dispose();
  });
});

describe('TabCaptions', () => {
  it("puts the Workspace's name in front of the document manager's caption", () => {
    const { value } = names(workspace('e-1', 'sales-analysis'));
    const widget = new Widget();
    const pathChanged = new Signal<unknown, string>({});
    const context = {
      path: 'workspaces/e-1/a.ipynb',
      pathChanged
    } as unknown as Context<DocumentRegistry.IModel>;
    const ext = new TabCaptions(value).createNew(widget, context);
    const line = 'EMR Workspace "sales-analysis" (workspaces/e-1)';
    expect(widget.title.caption).toBe(`${line}\n`);
    // The document manager rewrites it as the file is saved.
    widget.title.caption = 'Name: a.ipynb\nPath: workspaces/e-1/a.ipynb';
    expect(widget.title.caption).toBe(
      `${line}\nName: a.ipynb\nPath: workspaces/e-1/a.ipynb`
    );
    // Moved out of the Workspace: the line goes.
    (context as any).path = 'a.ipynb';
    pathChanged.emit('a.ipynb');
    expect(widget.title.caption).toBe(
      'Name: a.ipynb\nPath: workspaces/e-1/a.ipynb'
    );
    ext.dispose();
    widget.dispose();
  });
});
