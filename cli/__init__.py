"""The application: the ``semcolor`` command (:mod:`.main`, a LightningCLI with method / dataset names,
run folders and one-line errors), the callbacks every run gets (:mod:`.callbacks`) and results tables
(:mod:`.results_table`)."""
