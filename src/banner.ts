import { Time } from '@jupyterlab/coreutils';
import { DocumentRegistry, DocumentWidget } from '@jupyterlab/docregistry';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { ILeaseState, LeaseKeeper } from './models';

/**
 * The banner's text for a read-only Workspace, or null when it is not.
 */
export function readOnlyText(
  state: ILeaseState,
  trans: TranslationBundle
): string | null {
  if (state.mode !== 'read-only' || !state.workspace) {
    return null;
  }
  if (state.reason === 'lease-lost') {
    return trans.__(
      'Read-only: you lost the lease on Workspace "%1"%2. Your changes can no longer be saved in it; copy them elsewhere and reopen the Workspace.',
      state.workspace.name,
      state.holder?.user ? trans.__(' to %1', state.holder.user) : ''
    );
  }
  const since = state.holder?.since
    ? Time.formatHuman(new Date(state.holder.since))
    : '';
  return trans.__(
    'Read-only: Workspace "%1" is being edited by %2%3. You can read its files; saving is refused until they close it.',
    state.workspace.name,
    state.holder?.user ?? '?',
    since ? trans.__(' since %1', since) : ''
  );
}

/**
 * A banner naming who holds the Workspace, shown while it is read-only.
 *
 * It follows the lease keeper; `applies` narrows it (e.g. to one document).
 */
export class ReadOnlyBanner extends Widget {
  constructor(
    private keeper: LeaseKeeper,
    private trans: TranslationBundle,
    private applies: (state: ILeaseState) => boolean = () => true
  ) {
    super();
    this.addClass('jp-EmrWorkspace-banner');
    this.node.setAttribute('role', 'alert');
    this.keeper.stateChanged.connect(this._sync, this);
    this._sync();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.keeper.stateChanged.disconnect(this._sync, this);
    super.dispose();
  }

  /**
   * Re-evaluate whether the banner applies.
   */
  refresh(): void {
    this._sync();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._fitHeight();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._fitHeight();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._fitHeight();
  }

  private _sync(): void {
    const state = this.keeper.state;
    const text = this.applies(state) ? readOnlyText(state, this.trans) : null;
    this.node.textContent = text ?? '';
    this.setHidden(text === null);
    this._fitHeight();
  }

  /**
   * A document's content header (a box panel) gives each child its CSS
   * min-height, no more: make that the height of the wrapped text, or the
   * banner is clipped to its padding.
   */
  private _fitHeight(): void {
    if (!this.isAttached || this.isHidden) {
      return;
    }
    const node = this.node;
    const before = node.style.minHeight;
    node.style.minHeight = '';
    const border = node.offsetHeight - node.clientHeight;
    const height = `${node.scrollHeight + border}px`;
    node.style.minHeight = height;
    if (height !== before) {
      this.parent?.fit();
    }
  }
}

/**
 * Adds the read-only banner to documents inside a Workspace held by someone else.
 */
export class ReadOnlyDocumentExtension implements DocumentRegistry.IWidgetExtension<
  Widget,
  DocumentRegistry.IModel
> {
  constructor(
    private keeper: LeaseKeeper,
    private trans: TranslationBundle
  ) {}

  createNew(
    widget: Widget,
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): IDisposable | void {
    if (!(widget instanceof DocumentWidget)) {
      return;
    }
    const banner = new ReadOnlyBanner(this.keeper, this.trans, () =>
      this.keeper.contains(context.path)
    );
    widget.contentHeader.addWidget(banner);
    return banner;
  }
}
