"""Search that finds Chinese terms.

Sphinx's English search splits text into \\w+ words, so a run of Chinese characters
such as 张量的概念 becomes one "word" and a search for 张量 misses it. Chinese is
written without spaces; the usual remedy for a small site is to index overlapping
character pairs (bigrams) and single characters of every Chinese run, and to split a
query the same way (every bigram must match). English words are indexed and searched
exactly as before (same stemmer, same stop words).
"""

from __future__ import annotations

import re

from sphinx.search.en import SearchEnglish

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def han_terms(run: str, query: bool) -> list[str]:
    """Index: every character and every pair. Query: the pairs (or the character)."""
    pairs = [run[i : i + 2] for i in range(len(run) - 1)]
    if query:
        return pairs or [run]
    return [*run, *pairs]


def split(text: str, query: bool = False) -> list[str]:
    terms = []
    for word in re.findall(r"\w+", text):
        rest = 0
        for match in HAN.finditer(word):
            if match.start() > rest:
                terms.append(word[rest : match.start()])
            terms += han_terms(match.group(0), query)
            rest = match.end()
        if rest < len(word):
            terms.append(word[rest:])
    return terms


# The same rule in the browser (language_data.js; searchtools.js calls splitQuery).
JS_SPLITTER = r"""
var splitQuery = function (query) {
  const han = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/g;
  const terms = [];
  for (const word of query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu)) {
    if (!word) continue;
    let rest = 0;
    for (const match of word.matchAll(han)) {
      if (match.index > rest) terms.push(word.slice(rest, match.index));
      const run = match[0];
      if (run.length === 1) terms.push(run);
      for (let i = 0; i + 1 < run.length; i++) terms.push(run.slice(i, i + 2));
      rest = match.index + run.length;
    }
    if (rest < word.length) terms.push(word.slice(rest));
  }
  return terms;
};
"""


class CourseSearch(SearchEnglish):
    """English search, plus Chinese runs indexed as characters and pairs."""

    js_splitter_code = JS_SPLITTER

    def split(self, input: str) -> list[str]:
        return split(input)


def setup(app):
    app.add_search_language(CourseSearch)
