#!/usr/bin/env python3
"""Writes lookback.conf(5) from data/lookback.conf, so that the manual page
and the documented example never disagree.

usage: conf-to-man.py VERSION lookback.conf OUTPUT

The file's first comment block becomes the DESCRIPTION; each [group] a
subsection; each key=default (or commented-out example) an entry whose text is
the comment block above it; comment blocks after the last key of a group
(documentation of groups such as [input ...]) are kept as paragraphs.
"""
import re
import sys


def roff(text):
    """Escapes plain text for roff (a line may not start with . or ')."""
    text = text.replace('\\', '\\e').replace('-', '\\-')
    # non-ASCII as groff's Unicode escapes: the page needs no preconv
    text = ''.join(c if ord(c) < 128 else '\\[u%04X]' % ord(c) for c in text)
    return re.sub(r"^([.'])", r'\\&\1', text, flags=re.M)


def paragraphs(lines):
    """Comment lines to roff: a blank comment line starts a paragraph,
    indented lines (examples, lists) are kept as they are."""
    out, literal = [], False
    for line in lines:
        if line.strip() == '':
            if literal:
                out.append('.fi')
                literal = False
            out.append('.PP')
        elif line.startswith('  ') or re.match(r'^(\[.*\]|[A-Za-z0-9-]+=)', line):
            if not literal:
                out.append('.nf')
                literal = True
            out.append(roff(line))
        else:
            if literal:
                out.append('.fi')
                literal = False
            out.append(roff(line))
    if literal:
        out.append('.fi')
    return out


def convert(version, text):
    lines = text.splitlines()
    head, i = [], 0
    while i < len(lines) and lines[i].startswith('#'):
        head.append(lines[i][1:].removeprefix(' '))
        i += 1
    out = [
        '.TH LOOKBACK.CONF 5 "" "lookback %s" "File Formats"' % version,
        '.SH NAME',
        'lookback.conf \\- configuration of lookbackd(8) and lookback(1)',
        '.SH SYNOPSIS',
        '.I /etc/lookback/lookback.conf',
        '.SH DESCRIPTION',
    ]
    out += paragraphs(head[1:] if head and head[0].startswith('lookback') else head)
    out.append('.SH GROUPS AND KEYS')
    comment, entry = [], None  # entry: [tags, text] of the keys being read

    def flush():
        nonlocal entry
        if entry:
            tags, text = entry
            out.append('.TP')
            out.append(tags[0])
            out.extend('.TQ\n' + t for t in tags[1:])
            out.extend(paragraphs(text))
        entry = None

    for line in lines[i:]:
        if line.startswith('#'):
            comment.append(line[1:].removeprefix(' '))
            continue
        group = re.match(r'^\[(.+)\]\s*$', line)
        key = re.match(r'^([A-Za-z0-9-]+)=(.*)$', line)
        if key:
            tag = '.B %s=%s' % (roff(key.group(1)), roff(key.group(2)))
            if comment or entry is None:
                flush()
                entry = [[tag], comment]
            else:
                entry[0].append(tag)  # described with the key above
        else:
            flush()
            if group:
                out.append('.SS [%s]' % roff(group.group(1)))
            elif comment:
                out.append('.PP')
                out += paragraphs(comment)
        comment = []
    flush()
    if comment:
        out.append('.PP')
        out += paragraphs(comment)
    out += [
        '.SH SEE ALSO',
        '.BR lookbackd (8),',
        '.BR lookback (1)',
    ]
    return '\n'.join(out) + '\n'


def main():
    version, source, output = sys.argv[1:4]
    with open(source, encoding='utf-8') as f:
        text = f.read()
    with open(output, 'w', encoding='utf-8') as f:
        f.write(convert(version, text))


if __name__ == '__main__':
    main()
