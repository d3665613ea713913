"""The command palette (ctrl+p): jump to an instance id, saved filters, forge, progress,
export of the curated split.

Saved filters live in ``<workspace>/tui.json`` (``tui.prefs``). Exports open the export
dialog (``tui.export_screen``): a new timestamped name under ``<workspace>/exports/`` by
default, written by the app's export worker with its own cursor, the manifest beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.prefs import SavedFilter
from tui.services import Workbench, workbench

# Any difference in curators' labels (decision or realism), settled or not.
DISAGREEMENTS = SavedFilter(text="is:disagreement")
# The open disputes (accept vs reject, no final decision yet; ``bugfoundry disputes``): the
# queue empties as final decisions are set.
UNSETTLED = SavedFilter(text="is:disputed")
MY_QUEUE = SavedFilter(text="assigned:me")
MIN_ID_QUERY = 3  # shorter queries would list every id


@dataclass(frozen=True)
class Command:
    text: str
    run: Callable[[], object]
    help: str


class CurationCommands(Provider):
    """Palette commands of the curation workbench."""

    @property
    def bf(self) -> Workbench:
        return workbench(self.app)

    def commands(self) -> list[Command]:
        bf = self.bf
        out = [
            Command("Forge: pick a repo and a strategy", bf.action_forge,
                    "run the engine in a worker; instances appear as they are validated"),
            Command("Progress and agreement", bf.action_progress,
                    "per-curator counts, Cohen's kappa, the disagreements queue"),
            Command("Realism: per-strategy report and histograms", bf.action_realism,
                    "score every instance, AUC and coverage per strategy (also R)"),
            Command("Blind test: real or forged?", bf.action_blindtest,
                    "answer the newest blind-test session, then its report (also T)"),
            Command("Realism: blind mode on/off", bf.action_toggle_blind,
                    "hide scores while labelling so they do not bias the tags (also B)"),
            Command("Queue: disagreements between curators", partial(self.apply, DISAGREEMENTS),
                    "curators' decisions or realism differ, settled or not (is:disagreement)"),
            Command("Queue: disputes to adjudicate", partial(self.apply, UNSETTLED),
                    "accept vs reject with no final decision yet (is:disputed); A in review "
                    "settles one"),
            Command("Queue: assigned to me", partial(self.apply, MY_QUEUE),
                    "the instances bugfoundry assign gave you (assigned:me)"),
            Command("Guidelines", bf.action_guidelines,
                    "the workspace's guidelines.md (also g)"),
            Command("Filter: save the current filter as ...", self.ask_name,
                    f"kept in {bf.prefs.path.name} in the workspace"),
        ]
        for fmt, what in (("swesmith", "SWE-smith JSONL (patch = the bug)"),
                          ("swebench", "SWE-bench JSONL (patch = the fix)"),
                          ("parquet", "Parquet, zstd")):
            out.append(Command(f"Export: curated split as {what} ...", partial(bf.ask_export, fmt),
                               "pick rule, dedup, repo and path (also E on the browse screen)"))
        for name, saved in sorted(bf.prefs.saved_filters.items()):
            out.append(Command(f"Filter: apply saved '{name}'", partial(self.apply, saved),
                               saved.describe()))
            out.append(Command(f"Filter: delete saved '{name}'", partial(self.delete, name),
                               saved.describe()))
        from tui.review import ReviewScreen

        if isinstance(self.screen, ReviewScreen):
            review = self.screen
            out.append(Command("Diff: unified / side by side", review.action_toggle_diff,
                               "also the d key"))
            out.append(Command("Diff: jump to the hunk of the next marked frame",
                               review.action_jump, "also the j key"))
        return out

    async def discover(self) -> Hits:
        for c in self.commands():
            yield DiscoveryHit(c.text, c.run, help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in self.commands():
            score = matcher.match(c.text)
            if score > 0:
                yield Hit(score, matcher.highlight(c.text), c.run, help=c.help)
        if len(query.strip()) >= MIN_ID_QUERY:
            for iid in self.bf.store.find_instance_ids(query, limit=10):
                yield Hit(0.9, f"Open instance {iid}", partial(self.bf.open_review, iid),
                          text=f"Open instance {iid}", help="review it (n/p walk the listing)")

    def apply(self, saved: SavedFilter) -> None:
        self.bf.show_browse().apply_filter(saved)

    def delete(self, name: str) -> None:
        self.bf.prefs.saved_filters.pop(name, None)
        self.bf.save_prefs()
        self.app.notify(f"deleted the saved filter '{name}'")

    def ask_name(self) -> None:
        from tui.modals import NameScreen

        browse = self.bf.browse_screen()
        current = browse.current_filter()

        def save(name: str | None) -> None:
            if not name:
                return
            self.bf.prefs.saved_filters[name] = current
            self.bf.save_prefs()
            self.app.notify(f"saved the filter '{name}': {current.describe()}")

        self.app.push_screen(NameScreen("Save the current filter as"), save)
