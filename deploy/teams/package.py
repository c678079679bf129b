"""Build the Teams app package to sideload: manifest.json (with your app id and host) and two icons.

    python deploy/teams/package.py --app-id 00000000-1111-2222-3333-444444444444 \\
        --host madoguchi.example.lg.jp --organisation "Example City International Association"

writes madoguchi-teams.zip; upload it in Teams (Apps > Manage your apps > Upload an app) or in the
Teams admin center (Teams apps > Manage apps > Upload). The icons are drawn here (a plain
window mark), so the repository holds no binary files; replace them with your own if you like.
"""
from __future__ import annotations

import argparse
import json
import re
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def png(size: int, pixel) -> bytes:
    """An RGBA PNG of ``size`` x ``size`` whose pixels are ``pixel(x, y) -> (r, g, b, a)``."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def window(size: int, x: int, y: int) -> bool:
    """A window (窓) mark: a frame with a cross, in the middle 70 % of the square."""
    lo, hi, bar = int(size * 0.15), int(size * 0.85), max(1, size // 16)
    mid = size // 2
    inside = lo <= x < hi and lo <= y < hi
    return inside and (x < lo + bar or x >= hi - bar or y < lo + bar or y >= hi - bar or abs(x - mid) < bar // 2 + 1
                       or abs(y - mid) < bar // 2 + 1)


def icons() -> dict[str, bytes]:
    """color.png (192 px, white mark on the accent colour) and outline.png (32 px, white on transparent)."""
    return {"color.png": png(192, lambda x, y: (255, 255, 255, 255) if window(192, x, y) else (31, 78, 121, 255)),
            "outline.png": png(32, lambda x, y: (255, 255, 255, 255) if window(32, x, y) else (0, 0, 0, 0))}


def manifest(app_id: str, host: str, organisation: str) -> dict:
    if not GUID.match(app_id):
        raise SystemExit(f"--app-id must be the bot's Microsoft Entra application (client) id, a GUID: {app_id!r}")
    text = (HERE / "manifest.json").read_text(encoding="utf-8")
    for key, value in (("TEAMS_APP_ID", app_id), ("PUBLIC_HOST", host), ("ORGANISATION", organisation)):
        text = text.replace("{{%s}}" % key, json.dumps(value)[1:-1])
    return json.loads(text)


def build(app_id: str, host: str, organisation: str, out: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest(app_id, host, organisation), ensure_ascii=False, indent=2))
        for name, data in icons().items():
            z.writestr(name, data)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app-id", required=True, help="CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID")
    ap.add_argument("--host", required=True, help="the public host name of kb serve, e.g. madoguchi.example.lg.jp")
    ap.add_argument("--organisation", default="Madoguchi operator", help="shown as the app's developer")
    ap.add_argument("--out", type=Path, default=Path("madoguchi-teams.zip"))
    args = ap.parse_args()
    print(build(args.app_id, args.host, args.organisation, args.out))


if __name__ == "__main__":
    main()
