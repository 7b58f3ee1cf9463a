"""GridHub's Airflow DAG files (the scheduler reads this folder as its DAGs folder); a package
only so that the import contracts (.importlinter) can check them."""
