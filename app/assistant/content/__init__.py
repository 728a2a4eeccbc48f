"""Readers of dialogues/, one per kind of file, each on the shared Checker of app/content.py.

files.py opens any Rasa file (version, sections); domain.py reads domain.yml; nlu_data.py the
examples, synonyms, lookups and regexes of data/nlu/; stories.py the rules, stories and test
stories; knowledge.py the assistant's look-up files in knowledge/. app/assistant/data.py and
app/assistant/knowledge.py compose them.
"""
