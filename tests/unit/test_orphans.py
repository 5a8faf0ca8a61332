"""What a fenced former primary alone holds, without a lab: its row changes read from `mariadb-binlog`'s
decoded output (captured from MariaDB 10.11), and the saved files a rebuild leaves in the state folder."""

from __future__ import annotations

from pathlib import Path

from foobar_fab.observe.replication import RowChange, row_changes
from foobar_fab.orphans import Saved, saved
from foobar_fab.statefolder import LabFolder

DECODED = """\
#261204 16:57:11 server id 523  end_log_pos 5059 CRC32 0x0988eff9 \tGTID 0-523-20 trans
START TRANSACTION
#Q> INSERT INTO messages (body, node) VALUES ('orphan 1 it\\'s', 'web-02')
#261204 16:57:11 server id 523  end_log_pos 5325 CRC32 0x8c6d4422 \tWrite_rows: table id 22 flags: STMT_END_F
### INSERT INTO `foobar`.`messages`
### SET
###   @1=8
###   @2='orphan 1 it's'
###   @3='web-02'
###   @4=1796403431.975191
COMMIT/*!*/;
#261204 16:57:12 server id 523  end_log_pos 5398 CRC32 0x7e716a20 \tGTID 0-523-21 trans
### UPDATE `foobar`.`messages`
### WHERE
###   @1=8
###   @2='orphan 1 it's'
### SET
###   @1=8
###   @2='edited'
### DELETE FROM `foobar`.`messages`
### WHERE
###   @1=3
"""


def test_row_changes_carry_their_transaction_and_the_row_before_a_change() -> None:
    assert row_changes(DECODED) == [
        RowChange("0-523-20", "INSERT", "foobar", "messages", {1: "8", 2: "'orphan 1 it's'", 3: "'web-02'", 4: "1796403431.975191"}),
        RowChange("0-523-21", "UPDATE", "foobar", "messages", {1: "8", 2: "'orphan 1 it's'"}),
        RowChange("0-523-21", "DELETE", "foobar", "messages", {1: "3"}),
    ]


def test_no_row_events_no_changes() -> None:
    assert row_changes("#261204 server id 523 \tGTID 0-523-20 trans\nCOMMIT/*!*/;\n") == []


def test_saved_files_are_listed_oldest_first_with_what_was_replayed(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path)
    assert saved(folder) == []
    folder.orphans.mkdir()
    (folder.orphans / "20261204-170043-web-01.sql.replayed").write_text("INSERT INTO `foobar`.`messages` (`body`) VALUES ('a');\n")
    (folder.orphans / "20261205-090000-web-02.sql").write_text("-- INSERT INTO nothing\nINSERT INTO `foobar`.`messages` (`body`) VALUES ('b');\nCOMMIT;\n")
    (folder.orphans / "notes.txt").write_text("not a saved file")
    found = saved(folder)
    assert [(f.path.name, f.replayed, f.rows) for f in found] == [
        ("20261204-170043-web-01.sql.replayed", True, 1),
        ("20261205-090000-web-02.sql", False, 1),
    ]
    assert isinstance(found[0], Saved)
