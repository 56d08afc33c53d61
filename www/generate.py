#!/usr/bin/env python3
"""Writes the demo sites' generated files: images/photo.jpg and pdf/report.pdf.

The HTML and CSS pages of www/ are written by hand; the two binary files are made here. The
committed files are the product; this script records how they were made, and running it again
gives the same bytes (Python 3 stdlib; ImageMagick's `convert` for the JPEG, optional).

    python3 www/generate.py            # rewrite everything next to this script
    python3 www/generate.py --out DIR  # write into DIR instead

photo.jpg: a 320x240 baseline JPEG (4:2:0, quality 85, about 15 KB) of an ImageMagick plasma with a
fixed seed. Without `convert` the committed photo.jpg is kept as it is.
report.pdf: a PDF 1.4 file of a few hundred KB written by the code below: a cover page that shows
photo.jpg (a JPEG goes into a PDF unchanged, /DCTDecode), prose pages, and an appendix of access-log
rows. Content streams are left uncompressed so the file stays readable and its size predictable.
"""

import argparse
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- deterministic text ----------------------------------------------------------------------


class Lcg:
    """A 64-bit linear congruential generator: the same numbers on every Python and machine."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return (self.state >> 33) % n

    def pick(self, items):
        return items[self.below(len(items))]


WORDS = (
    "proxy request response header body upstream peer listener worker loop socket buffer "
    "connection keep-alive pipeline route prefix balancer weight timeout retry status latency "
    "throughput backend client server static file range cache log line field byte stream "
    "chunk frame parser limit queue pool thread core kernel packet port address handshake "
    "the a an of to in on for with from by over under after before each every one two three "
    "measured observed served forwarded accepted closed reused spread counted compared kept "
    "fast slow small large steady busy idle healthy failed clean quiet fair even stable"
).split()

PATHS = ["/", "/index.html", "/style.css", "/images/", "/images/photo.jpg", "/pdf/", "/pdf/report.pdf"]
PEERS = ["127.0.0.1:8888", "127.0.0.1:8889", "127.0.0.1:8890"]

SECTIONS = [
    "1. Purpose",
    "2. Setup",
    "3. Reverse proxy by path prefix",
    "4. Round-robin load balancing",
    "5. Keep-alive and pipelining",
    "6. Failure handling",
    "7. Conclusions",
]


def sentence(rng):
    words = [rng.pick(WORDS) for _ in range(6 + rng.below(12))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def paragraph(rng):
    return " ".join(sentence(rng) for _ in range(4 + rng.below(5)))


def log_row(rng, n):
    path = rng.pick(PATHS)
    peer = PEERS[1] if path.startswith("/images/") else PEERS[2] if path.startswith("/pdf/") else PEERS[0]
    status = 200 if rng.below(40) else 404
    size = {"/images/photo.jpg": 15285, "/pdf/report.pdf": 540000}.get(path, 300 + rng.below(700))
    micros = 150 + rng.below(900)
    minute, second = divmod(n // 7, 60)
    return "%06d 12:%02d:%02d GET %-18s %3d %7d %s rt=0.%06d" % (
        n, minute % 60, second, path, status, size, peer, micros)


# ---- a small PDF writer ------------------------------------------------------------------------

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 60


def pdf_string(text):
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


class PdfFile:
    """Objects numbered from 1 in the order they are reserved; serialize() writes the xref table."""

    def __init__(self):
        self.bodies = []

    def reserve(self):
        self.bodies.append(None)
        return len(self.bodies)

    def put(self, number, body):
        self.bodies[number - 1] = body

    def add(self, body):
        number = self.reserve()
        self.put(number, body)
        return number

    @staticmethod
    def stream(entries, data):
        return b"<< " + entries.encode("ascii") + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    def serialize(self, root, info):
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.bodies, 1):
            assert body is not None, "object %d reserved but never written" % number
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref_at = len(out)
        out += b"xref\n0 %d\n" % (len(self.bodies) + 1)
        out += b"0000000000 65535 f \n"  # each entry is exactly 20 bytes
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\n" % (len(self.bodies) + 1, root, info)
        out += b"startxref\n%d\n%%%%EOF\n" % xref_at
        return bytes(out)


def jpeg_size(data):
    """(width, height) from the first SOFn marker of a JPEG."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("JPEG marker expected at %d" % at)
        marker = data[at + 1]
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    raise ValueError("no SOF marker in JPEG")


def layout_report(rng, log_rows):
    """The report as lines (font, size, leading, indent, text), the cover page drawn separately."""
    lines = []
    for title in SECTIONS:
        lines.append(("F2", 13, 24, 0, title))
        for _ in range(3 + rng.below(3)):
            for row in textwrap.wrap(paragraph(rng), 92):
                lines.append(("F1", 10, 13, 0, row))
            lines.append(("F1", 10, 8, 0, ""))
    lines.append(("F2", 13, 24, 0, "Appendix A. Access log of a measurement run"))
    lines.append(("F3", 8, 12, 0, "seq    time     method path               status   bytes peer           time"))
    for n in range(1, log_rows + 1):
        lines.append(("F3", 8, 10, 0, log_row(rng, n)))
    return lines


def paginate(lines):
    pages, page, y = [], [], PAGE_H - MARGIN
    for line in lines:
        leading = line[2]
        if y - leading < MARGIN + 20:
            pages.append(page)
            page, y = [], PAGE_H - MARGIN
        y -= leading
        page.append((line, y))
    if page:
        pages.append(page)
    return pages


def text_op(font, size, x, y, text):
    return "BT /%s %d Tf %d %d Td %s Tj ET\n" % (font, size, x, y, pdf_string(text))


def build_pdf(photo, log_rows=4600):
    width, height = jpeg_size(photo)
    pdf = PdfFile()
    catalog, pages_obj, info = pdf.reserve(), pdf.reserve(), pdf.reserve()
    fonts = {}
    for key, base in (("F1", "Helvetica"), ("F2", "Helvetica-Bold"), ("F3", "Courier")):
        fonts[key] = pdf.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
                             % base.encode("ascii"))
    image = pdf.add(PdfFile.stream(
        "/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        "/BitsPerComponent 8 /Filter /DCTDecode" % (width, height), photo))
    resources = pdf.add(("<< /Font << %s >> /XObject << /Im1 %d 0 R >> >>" % (
        " ".join("/%s %d 0 R" % (k, v) for k, v in sorted(fonts.items())), image)).encode("ascii"))

    body_pages = paginate(layout_report(Lcg(20261126), log_rows))
    total = len(body_pages) + 1
    contents = []

    cover = text_op("F2", 24, MARGIN, 720, "proxyd demo report")
    cover += text_op("F1", 12, MARGIN, 692, "Reverse proxy and round-robin load balancing on loopback")
    shown_w, shown_h = 400, 400 * height // width
    cover += "q %d 0 0 %d %d %d cm /Im1 Do Q\n" % (shown_w, shown_h, MARGIN, 650 - shown_h)
    cover += text_op("F1", 10, MARGIN, 620 - shown_h, "Figure 1. The image site's photo.jpg, embedded as it is served.")
    contents.append(cover)

    for number, page in enumerate(body_pages, 2):
        ops = "".join(text_op(font, size, MARGIN + indent, y, text)
                      for (font, size, _, indent, text), y in page if text)
        footer = "proxyd demo report - page %d of %d" % (number, total)
        ops += "0.6 g\n" + text_op("F1", 8, MARGIN, 36, footer) + "0 g\n"
        contents.append(ops)

    kids = []
    for ops in contents:
        stream = pdf.add(PdfFile.stream("", ops.encode("latin-1")))
        kids.append(pdf.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources %d 0 R /Contents %d 0 R >>"
                            % (pages_obj, PAGE_W, PAGE_H, resources, stream)))
    pdf.put(pages_obj, b"<< /Type /Pages /Kids [%s] /Count %d >>"
            % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    pdf.put(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj)
    pdf.put(info, b"<< /Title (proxyd demo report) /Author (proxyd project) /Producer (www/generate.py) "
                  b"/CreationDate (D:20261126000000Z) >>")
    return pdf.serialize(catalog, info)


# ---- the JPEG ----------------------------------------------------------------------------------


def find_convert():
    for candidate in ("/usr/bin/convert", shutil.which("convert")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def make_photo(path):
    convert = find_convert()
    if convert is None:
        if not os.path.exists(path):
            sys.exit("generate.py: ImageMagick's convert is missing and there is no %s to keep" % path)
        print("convert not found: keeping %s as committed" % path)
        return
    subprocess.run([convert, "-size", "320x240", "-seed", "7", "plasma:steelblue-orange", "-strip",
                    "-interlace", "none", "-sampling-factor", "4:2:0", "-quality", "85", "jpeg:" + path],
                   check=True, timeout=60)


# ---- main --------------------------------------------------------------------------------------


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=HERE, help="folder to write into (default: next to this script)")
    out = parser.parse_args().out

    photo_path = os.path.join(out, "images", "photo.jpg")
    os.makedirs(os.path.dirname(photo_path), exist_ok=True)
    if out != HERE and not find_convert():
        os.makedirs(os.path.dirname(photo_path), exist_ok=True)
        shutil.copyfile(os.path.join(HERE, "images", "photo.jpg"), photo_path)
    else:
        make_photo(photo_path)
    with open(photo_path, "rb") as f:
        photo = f.read()
    write(os.path.join(out, "pdf", "report.pdf"), build_pdf(photo))

    for rel in ("images/photo.jpg", "pdf/report.pdf"):
        with open(os.path.join(out, rel), "rb") as f:
            data = f.read()
        print("%-20s %8d  sha256 %s" % (rel, len(data), hashlib.sha256(data).hexdigest()))


if __name__ == "__main__":
    main()
