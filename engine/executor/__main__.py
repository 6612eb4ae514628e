"""``python -m engine.executor``: an executor process (see ``executor_process``)."""
from engine.executor.executor_process import main

main()
