"""Reference comparisons: sessrec's models run beside public reference implementations.

Each module runs one comparison and prints figures (nothing here is a test, and nothing in
the package imports these modules). The reference code itself is never part of sessrec:
fetch it into a scratch folder outside this checkout and pass its path.

=======================================  ======================================================
``python -m sessrec.reference.official_gru4rec``   GRU4Rec against the official PyTorch code
                                                  (hidasib/GRU4Rec_PyTorch_Official): training
                                                  and evaluation speed, Recall/MRR, same run
``python -m sessrec.reference.srgnn``              SR-GNN against the authors' code
                                                  (CRIPAC-DIG/SR-GNN ``pytorch_code``): epoch
                                                  speed, same-batch forward equality, accuracy
``python -m sessrec.reference.srgnn_accuracy``     the authors' SR-GNN trained on a prepared
                                                  split, epoch by epoch, resumable
``python -m sessrec.reference.session_rec_parity`` session-rec's V-SKNN, STAN, SR (rn5l/session-rec)
                                                  against sessrec's: identical top-k lists
``python -m sessrec.reference.session_rec_speed``  the same models' speed, events/s, same run
``python -m sessrec.reference.slist_parity``       SLIST against the authors' code (jin530/SLIST):
                                                  top-20 lists on a small split
``python -m sessrec.reference.recbole_peer``       NeuMF and BMF beside RecBole's NeuMF and BPR
                                                  on the same user-context split: HR@10,
                                                  NDCG@10, seconds per epoch, interleaved
=======================================  ======================================================

``session_rec`` holds what the last two share (importing session-rec's algorithm files
unchanged from a checkout). Every module has ``--help``.
"""
